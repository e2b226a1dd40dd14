#include "sim/sim_uevent_log.hpp"

#include "base/error.hpp"
#include "base/fd.hpp"
#include "sim/sim_text.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <system_error>

namespace vfiod::sim
{

namespace
{

[[noreturn]] void throwErrno(const std::string& what)
{
    throw std::system_error(errno, std::generic_category(), what);
}

UniqueFd openLog(const std::string& path, int flags)
{
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, 0644));
    if (!fd)
    {
        throwErrno("open " + path);
    }
    return fd;
}

/**
 * @brief Reads from @p offset to the end, parses the complete lines and
 * moves @p offset past them.
 */
std::vector<Uevent> readLines(int fd, off_t& offset, const std::string& path)
{
    std::string text;
    char buffer[65536];
    off_t at = offset;
    for (;;)
    {
        ssize_t n = ::pread(fd, buffer, sizeof buffer, at);
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            throwErrno("read " + path);
        }
        if (n == 0)
        {
            break;
        }
        text.append(buffer, static_cast<size_t>(n));
        at += n;
    }
    std::vector<Uevent> events;
    size_t start = 0;
    for (;;)
    {
        size_t end = text.find('\n', start);
        if (end == std::string::npos)
        {
            break;
        }
        if (std::optional<Uevent> event =
                parseUevent(std::string_view(text).substr(start, end - start)))
        {
            events.push_back(std::move(*event));
        }
        start = end + 1;
    }
    offset += static_cast<off_t>(start);
    return events;
}

class LogSource final : public UeventSource
{
  public:
    explicit LogSource(const std::string& path) : path(path)
    {
        notify = UniqueFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (!notify)
        {
            throwErrno("inotify_init1");
        }
        if (::inotify_add_watch(notify.get(), path.c_str(), IN_MODIFY) < 0)
        {
            throwErrno("inotify_add_watch " + path);
        }
        log = openLog(path, O_RDONLY);
        struct stat st;
        if (::fstat(log.get(), &st) < 0)
        {
            throwErrno("stat " + path);
        }
        offset = st.st_size;
    }

    int fd() const override
    {
        return notify.get();
    }

    std::vector<Uevent> receive() override
    {
        // Drain first, then read: an append racing with us either lands in
        // this read or leaves the fd readable for the next call.
        char buffer[4096];
        while (::read(notify.get(), buffer, sizeof buffer) > 0)
        {}
        return readLines(log.get(), offset, path);
    }

  private:
    std::string path;
    UniqueFd notify;
    UniqueFd log;
    off_t offset = 0;
};

} // namespace

void SimUeventLog::create() const
{
    openLog(path, O_WRONLY | O_CREAT | O_APPEND);
}

void SimUeventLog::append(const std::vector<Uevent>& events) const
{
    if (events.empty())
    {
        return;
    }
    UniqueFd fd = openLog(path, O_RDWR | O_CREAT | O_APPEND);
    std::string text;
    struct stat st;
    if (::fstat(fd.get(), &st) < 0)
    {
        throwErrno("stat " + path);
    }
    if (st.st_size > 0)
    {
        // A writer killed mid-append leaves a partial line; end it so our
        // events start on their own line (readers skip the fragment).
        char last = '\n';
        if (::pread(fd.get(), &last, 1, st.st_size - 1) == 1 && last != '\n')
        {
            text += '\n';
        }
    }
    for (const Uevent& event : events)
    {
        text += formatUevent(event);
    }
    std::string_view data = text;
    while (!data.empty())
    {
        ssize_t n = ::write(fd.get(), data.data(), data.size());
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            throwErrno("write " + path);
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
}

std::vector<Uevent> SimUeventLog::readAll() const
{
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
    {
        if (errno == ENOENT)
        {
            return {};
        }
        throwErrno("open " + path);
    }
    off_t offset = 0;
    return readLines(fd.get(), offset, path);
}

std::unique_ptr<UeventSource> SimUeventLog::subscribe() const
{
    create();
    return std::make_unique<LogSource>(path);
}

std::string formatUevent(const Uevent& event)
{
    std::string line = std::to_string(event.seqnum);
    for (const std::string* field :
         {&event.action, &event.subsystem, &event.sysname, &event.devpath,
          &event.driver})
    {
        line += '\t';
        line += escape(*field);
    }
    for (const auto& [key, value] : event.properties)
    {
        line += '\t';
        line += escape(key);
        line += '=';
        line += escape(value);
    }
    line += '\n';
    return line;
}

std::optional<Uevent> parseUevent(std::string_view line)
{
    std::vector<std::string_view> fields = split(line, '\t');
    if (fields.size() < 6)
    {
        return std::nullopt;
    }
    Uevent event;
    auto [end, ec] = std::from_chars(
        fields[0].data(), fields[0].data() + fields[0].size(), event.seqnum);
    if (ec != std::errc() || end != fields[0].data() + fields[0].size())
    {
        return std::nullopt;
    }
    event.action = unescape(fields[1]);
    event.subsystem = unescape(fields[2]);
    event.sysname = unescape(fields[3]);
    event.devpath = unescape(fields[4]);
    event.driver = unescape(fields[5]);
    for (size_t i = 6; i < fields.size(); ++i)
    {
        size_t eq = fields[i].find('=');
        if (eq == std::string_view::npos)
        {
            return std::nullopt;
        }
        event.properties[unescape(fields[i].substr(0, eq))] =
            unescape(fields[i].substr(eq + 1));
    }
    return event;
}

} // namespace vfiod::sim
