#include "ledger/ledger.hpp"

#include "base/atomic_file.hpp"
#include "base/error.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
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
            fail(Errc::InvalidArgument, "ledger line without '=': " + line);
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

Ledger::Ledger(std::string stateDir) : dir(std::move(stateDir) + "/devices")
{
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
    {
        fail(Errc::Failed,
             "cannot create the ledger directory " + dir + ": " + ec.message());
    }
}

std::string Ledger::pathOf(const PciAddress& address) const
{
    return dir + "/" + address.str();
}

std::map<PciAddress, LedgerRecord>
    Ledger::load(std::map<std::string, std::string>* damaged) const
{
    std::lock_guard lock(mutex);
    std::map<PciAddress, LedgerRecord> records;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec))
    {
        std::string name = entry.path().filename().string();
        PciAddress address;
        if (!PciAddress::tryParse(name, address))
        {
            continue; // temporary files of an interrupted write, and such
        }
        try
        {
            std::optional<std::string> text =
                readWholeFile(entry.path().string());
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
                (*damaged)[entry.path().string()] = e.what();
            }
        }
    }
    return records;
}

void Ledger::put(const LedgerRecord& record)
{
    std::lock_guard lock(mutex);
    std::string path = pathOf(record.address);
    try
    {
        writeFileAtomically(path, formatLedgerRecord(record), 0600);
    }
    catch (const std::system_error& e)
    {
        fail(Errc::Failed,
             "cannot write the ledger record " + path + ": " + e.what());
    }
}

void Ledger::erase(const PciAddress& address)
{
    std::lock_guard lock(mutex);
    std::string path = pathOf(address);
    if (::unlink(path.c_str()) < 0 && errno != ENOENT)
    {
        fail(Errc::Failed, "cannot remove the ledger record " + path + ": " +
                               std::strerror(errno));
    }
    // The removal must survive a power cut as the writes do.
    try
    {
        syncDirectory(dir);
    }
    catch (const std::system_error& e)
    {
        fail(Errc::Failed,
             "cannot sync the ledger directory " + dir + ": " + e.what());
    }
}

} // namespace vfiod
