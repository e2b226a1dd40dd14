// A minimal org.vfiod1 client for tests that need a separate process: one
// running under another uid (setpriv), or one that holds a lease until it
// is killed.
//
// Usage:
//   test_client ADDRESS call PATH METHOD [KEY=VALUE...]
//       Calls org.vfiod1.Device.METHOD with string options. Prints "ok",
//       or "error NAME: MESSAGE" and exits 1.
//   test_client ADDRESS reload
//       Calls org.vfiod1.Manager.Reload, printing as above.
//   test_client ADDRESS hold PATH
//       Calls Assign, prints "holding", and keeps the lease until killed.
//   test_client ADDRESS set-state PATH FILE
//       Calls SetMigrationState with FILE's contents as the state (an
//       argument larger than the command line takes), printing as call.
//   test_client ADDRESS flood PATH Bind|SaveState COUNT
//       Sends COUNT calls at once without waiting (SaveState with a pipe
//       each, whose ends it keeps open), prints "sent", then "reply NAME"
//       for each answer as it comes ("ok" or the error name), and exits
//       when all are answered.

#include <fcntl.h>
#include <sdbus-c++/sdbus-c++.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace
{

using Options = std::map<std::string, sdbus::Variant>;

int flood(sdbus::IConnection& connection, sdbus::IProxy& proxy,
          const std::string& method, int count)
{
    std::mutex mutex;
    std::condition_variable done;
    int answered = 0;
    std::vector<int> keep;
    for (int i = 0; i < count; ++i)
    {
        auto onReply = [&](const sdbus::Error* error) {
            std::lock_guard lock(mutex);
            std::cout << "reply " << (error ? error->getName() : "ok")
                      << std::endl;
            ++answered;
            done.notify_all();
        };
        if (method == "SaveState")
        {
            int ends[2];
            if (::pipe2(ends, O_CLOEXEC) != 0)
            {
                return 2;
            }
            keep.insert(keep.end(), {ends[0], ends[1]});
            proxy.callMethodAsync(method)
                .onInterface("org.vfiod1.Device")
                .withTimeout(std::chrono::hours(1))
                .withArguments(sdbus::UnixFd(ends[1]), Options{})
                .uponReplyInvoke(onReply);
        }
        else
        {
            proxy.callMethodAsync(method)
                .onInterface("org.vfiod1.Device")
                .withTimeout(std::chrono::hours(1))
                .withArguments(Options{})
                .uponReplyInvoke(onReply);
        }
    }
    std::cout << "sent" << std::endl;
    connection.enterEventLoopAsync();
    std::unique_lock lock(mutex);
    done.wait(lock, [&] { return answered == count; });
    lock.unlock();
    connection.leaveEventLoop();
    for (int fd : keep)
    {
        ::close(fd);
    }
    return 0;
}

Options parseOptions(int argc, char** argv, int first)
{
    Options options;
    for (int i = first; i < argc; ++i)
    {
        // KEY=VALUE is a string; KEY:b=true a boolean.
        std::string arg = argv[i];
        size_t eq = arg.find('=');
        std::string key = arg.substr(0, eq);
        std::string value = arg.substr(eq + 1);
        if (key.size() > 2 && key.substr(key.size() - 2) == ":b")
        {
            options[key.substr(0, key.size() - 2)] =
                sdbus::Variant(value == "true");
        }
        else
        {
            options[key] = sdbus::Variant(value);
        }
    }
    return options;
}

int run(int argc, char** argv)
{
    std::string address = argv[1];
    std::string command = argv[2];
    auto connection = sdbus::createSessionBusConnectionWithAddress(address);

    if (command == "reload")
    {
        auto proxy =
            sdbus::createProxy(*connection, "org.vfiod1", "/org/vfiod1");
        proxy->callMethod("Reload").onInterface("org.vfiod1.Manager");
        std::cout << "ok" << std::endl;
        return 0;
    }
    if (argc < 4)
    {
        std::cerr << "missing object path\n";
        return 2;
    }
    auto proxy = sdbus::createProxy(*connection, "org.vfiod1", argv[3]);
    if (command == "hold")
    {
        sdbus::UnixFd lease;
        proxy->callMethod("Assign")
            .onInterface("org.vfiod1.Device")
            .withArguments(Options{})
            .storeResultsTo(lease);
        std::cout << "holding" << std::endl;
        while (true)
        {
            ::pause();
        }
    }
    if (command == "set-state" && argc == 5)
    {
        std::ifstream in(argv[4], std::ios::binary);
        std::string state((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
        std::vector<std::string> path;
        proxy->callMethod("SetMigrationState")
            .onInterface("org.vfiod1.Device")
            .withArguments(state, Options{})
            .storeResultsTo(path);
        std::cout << "ok" << std::endl;
        return 0;
    }
    if (command == "flood" && argc == 6)
    {
        return flood(*connection, *proxy, argv[4], std::stoi(argv[5]));
    }
    if (command == "call" && argc >= 5)
    {
        proxy->callMethod(argv[4])
            .onInterface("org.vfiod1.Device")
            .withArguments(parseOptions(argc, argv, 5));
        std::cout << "ok" << std::endl;
        return 0;
    }
    std::cerr << "unknown command " << command << "\n";
    return 2;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 3)
    {
        std::cerr << "usage: test_client ADDRESS call|reload|hold ...\n";
        return 2;
    }
    try
    {
        return run(argc, argv);
    }
    catch (const sdbus::Error& e)
    {
        std::cout << "error " << e.getName() << ": " << e.getMessage()
                  << std::endl;
        return 1;
    }
}
