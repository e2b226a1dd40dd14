#include "ledger/ledger.hpp"

#include "base/atomic_file.hpp"
#include "base/error.hpp"
#include "base/text_escape.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <system_error>

namespace vfiod
{

namespace
{

namespace fs = std::filesystem;

constexpr std::string_view header = "vfiod-ledger 1";

/** @brief Values are single lines: a newline would end the record early. */
void requireOneLine(std::string_view key, const std::string& value)
{
    if (value.find('\n') != std::string::npos)
    {
        fail(Errc::InvalidArgument,
             "ledger " + std::string(key) + " holds a newline");
    }
}

/**
 * @brief Refuses NAME under AT when it is there but not a directory: a
 * symbolic link (even to a directory) could lead the records into any
 * file, so it is refused with what to do instead.
 * @param path NAME's path, and @p what the directory, for messages.
 * @throws Error(Errc::InvalidArgument)
 */
void refuseUnlessDirectory(int at, const std::string& name,
                           const std::string& path, const std::string& what)
{
    struct stat st;
    if (::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
        return; // missing or unreachable: the caller's next step says so
    }
    if (S_ISLNK(st.st_mode))
    {
        fail(Errc::InvalidArgument,
             what + " " + path +
                 " is a symbolic link: the ledger is kept only in a "
                 "real directory, since a link could lead its records "
                 "into any file; replace the link by a directory (or "
                 "set state_dir to where it points)");
    }
    if (!S_ISDIR(st.st_mode))
    {
        fail(Errc::InvalidArgument, what + " " + path + " is not a directory");
    }
}

/**
 * @brief Opens NAME under AT as a directory without following a link at
 * it (refused by refuseUnlessDirectory).
 */
UniqueFd openRealDirectory(int at, const std::string& name,
                           const std::string& path, const std::string& what)
{
    UniqueFd fd(::openat(at, name.c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd)
    {
        return fd;
    }
    int error = errno;
    if (error == ELOOP || error == ENOTDIR)
    {
        refuseUnlessDirectory(at, name, path, what);
    }
    fail(Errc::Failed,
         "cannot open " + what + " " + path + ": " + std::strerror(error));
}

/** @brief PATH without trailing slashes, which would make the kernel
 *  follow a link at its last component whatever O_NOFOLLOW says. */
std::string withoutTrailingSlashes(std::string path)
{
    while (path.size() > 1 && path.back() == '/')
    {
        path.pop_back();
    }
    return path;
}

} // namespace

std::string formatLedgerRecord(const LedgerRecord& record)
{
    requireOneLine("original_driver", record.originalDriver);
    requireOneLine("owner", record.owner);
    requireOneLine("lease", record.leaseToken);
    std::string text(header);
    text += "\naddress=" + record.address.str();
    text += "\noriginal_driver=" + record.originalDriver;
    text += "\nowner=" + record.owner;
    text += "\nlease=" + record.leaseToken;
    text += std::string("\nbinding=") + (record.binding ? "1" : "0");
    // The last line marks a complete record: a torn write (which the
    // rename makes impossible, but a copy by hand is not atomic) is
    // refused rather than read as a free device.
    text += "\nend\n";
    return text;
}

LedgerRecord parseLedgerRecord(const std::string& text)
{
    std::istringstream in(text);
    std::string line;
    if (!std::getline(in, line) || line != header)
    {
        fail(Errc::InvalidArgument, "not a vfiod ledger record");
    }
    LedgerRecord record;
    bool hasAddress = false;
    bool complete = false;
    while (std::getline(in, line))
    {
        if (line == "end")
        {
            complete = true;
            break;
        }
        auto equals = line.find('=');
        if (equals == std::string::npos)
        {
            // The damaged record is reported and logged: quoted escaped.
            fail(Errc::InvalidArgument,
                 "ledger line without '=': " + text::quotedArgument(line));
        }
        std::string key = line.substr(0, equals);
        std::string value = line.substr(equals + 1);
        if (key == "address")
        {
            record.address = PciAddress::parse(value);
            hasAddress = true;
        }
        else if (key == "original_driver")
        {
            record.originalDriver = value;
        }
        else if (key == "owner")
        {
            record.owner = value;
        }
        else if (key == "lease")
        {
            record.leaseToken = value;
        }
        else if (key == "binding")
        {
            record.binding = value == "1";
        }
        // Unknown keys come from a newer vfiod: ignored, so that a
        // downgrade keeps the records it understands.
    }
    if (!hasAddress || !complete)
    {
        fail(Errc::InvalidArgument, "incomplete ledger record");
    }
    return record;
}

std::string newLeaseToken()
{
    unsigned char bytes[16];
    size_t got = 0;
    while (got < sizeof bytes)
    {
        ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            throw std::system_error(errno, std::generic_category(),
                                    "getrandom");
        }
        got += static_cast<size_t>(n);
    }
    std::string token;
    for (unsigned char byte : bytes)
    {
        char hex[3];
        std::snprintf(hex, sizeof hex, "%02x", byte);
        token += hex;
    }
    return token;
}

void requireLedgerDirectories(const std::string& stateDir)
{
    std::string state = withoutTrailingSlashes(stateDir);
    refuseUnlessDirectory(AT_FDCWD, state, state, "the state directory");
    std::string devices = state + "/devices";
    refuseUnlessDirectory(AT_FDCWD, devices, devices, "the ledger directory");
}

Ledger::Ledger(std::string stateDir)
{
    std::string state = withoutTrailingSlashes(std::move(stateDir));
    dir = state + "/devices";
    struct stat st;
    if (::lstat(state.c_str(), &st) < 0 && errno == ENOENT)
    {
        // Only a missing directory is created: create_directories would
        // accept a link to a directory as one.
        std::error_code ec;
        fs::create_directories(state, ec);
        if (ec)
        {
            fail(Errc::Failed, "cannot create the state directory " + state +
                                   ": " + ec.message());
        }
    }
    UniqueFd stateFd =
        openRealDirectory(AT_FDCWD, state, state, "the state directory");
    // mkdirat does not follow a link at the name either: a link there
    // is EEXIST, and refused by the open below.
    if (::mkdirat(stateFd.get(), "devices", 0777) < 0 && errno != EEXIST)
    {
        fail(Errc::Failed, "cannot create the ledger directory " + dir + ": " +
                               std::strerror(errno));
    }
    devices = openRealDirectory(stateFd.get(), "devices", dir,
                                "the ledger directory");
}

std::map<PciAddress, LedgerRecord>
    Ledger::load(std::map<std::string, std::string>* damaged) const
{
    std::lock_guard lock(mutex);
    // A listing of its own: readdir moves the offset of the fd it reads.
    int listing =
        ::openat(devices.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* opened = listing < 0 ? nullptr : ::fdopendir(listing);
    if (opened == nullptr)
    {
        int error = errno;
        if (listing >= 0)
        {
            ::close(listing);
        }
        // An empty answer here would make every device vfiod holds look
        // like nobody's: the start-up fails instead.
        fail(Errc::Failed, "cannot read the ledger directory " + dir + ": " +
                               std::strerror(error));
    }
    std::unique_ptr<DIR, int (*)(DIR*)> listed(opened, ::closedir);
    std::map<PciAddress, LedgerRecord> records;
    for (;;)
    {
        errno = 0;
        const dirent* entry = ::readdir(opened);
        if (entry == nullptr)
        {
            if (errno != 0)
            {
                fail(Errc::Failed, "cannot read the ledger directory " + dir +
                                       ": " + std::strerror(errno));
            }
            return records;
        }
        std::string name = entry->d_name;
        PciAddress address;
        if (!PciAddress::tryParse(name, address))
        {
            continue; // temporary files of an interrupted write, and such
        }
        std::string path = dir + "/" + name;
        try
        {
            // A symlink, a FIFO, a directory or a huge file named like a
            // record is refused, never followed nor waited on.
            std::optional<std::string> text =
                readRegularFileAt(devices.get(), dir, name, maxRecordBytes);
            if (!text)
            {
                continue; // removed meanwhile
            }
            LedgerRecord record = parseLedgerRecord(*text);
            if (record.address != address)
            {
                fail(Errc::InvalidArgument, "it names " + record.address.str());
            }
            records[address] = record;
        }
        catch (const std::exception& e)
        {
            if (damaged != nullptr)
            {
                // The key names the file: the reason need not again.
                std::string why = e.what();
                if (why.starts_with(path + " "))
                {
                    why = "it" + why.substr(path.size());
                }
                (*damaged)[path] = why;
            }
        }
    }
}

void Ledger::put(const LedgerRecord& record)
{
    std::lock_guard lock(mutex);
    std::string name = record.address.str();
    try
    {
        writeFileAtomicallyAt(devices.get(), dir, name,
                              formatLedgerRecord(record), 0600);
    }
    catch (const std::system_error& e)
    {
        fail(Errc::Failed, "cannot write the ledger record " + dir + "/" +
                               name + ": " + e.what());
    }
}

void Ledger::erase(const PciAddress& address)
{
    std::lock_guard lock(mutex);
    std::string name = address.str();
    // unlink removes the name, whatever it is: a link is never followed.
    if (::unlinkat(devices.get(), name.c_str(), 0) < 0 && errno != ENOENT)
    {
        fail(Errc::Failed, "cannot remove the ledger record " + dir + "/" +
                               name + ": " + std::strerror(errno));
    }
    // The removal must survive a power cut as the writes do.
    if (::fsync(devices.get()) < 0)
    {
        fail(Errc::Failed, "cannot sync the ledger directory " + dir + ": " +
                               std::strerror(errno));
    }
}

} // namespace vfiod
