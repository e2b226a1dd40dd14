// What the benchmarks do on the simulated kernel itself, in-process through
// SimHost, the way a raw tool (or the hardware) would:
//
//   record HOST STATE OUT     the sysfs reads of vfiod's start-up
//                             (DeviceManager::enumerate through a recording
//                             KernelHost): OUT/manifest and the tree OUT/sys
//                             holding what each read returned
//   storm HOST STATE PF N     sriov_numvfs=N, then waits until every VF is
//                             on vfio-pci (vfiod's policy binds them)
//   storm-raw HOST STATE PF N the same by raw writes: sriov_drivers_autoprobe
//                             =0, sriov_numvfs=N, then driver_override and
//                             drivers_probe per VF
//   holders DEV REPS          KernelHost::vfioHolders of the Linux
//                             backend (every process's fds under /proc)
//                             REPS times, VFIO nodes under DEV: the scan
//                             behind InUse and Holders
//
// storm and storm-raw print one JSON object: seconds, vfs, bound; holders
// one with seconds (a list) and the holders of the last scan.

#include "kernel/kernel_host.hpp"
#include "kernel/sysfs_layout.hpp"
#include "linux/linux_host.hpp"
#include "service/device_manager.hpp"
#include "sim/sim_host.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

namespace
{

using vfiod::KernelHost;
using vfiod::LinuxHost;
using vfiod::LinuxRoots;
using vfiod::PciAddress;
using vfiod::SimHost;
using vfiod::VfioHolder;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

/** Forwards to a host and remembers every read, as a tree and a list. */
class RecordingHost final : public KernelHost
{
  public:
    explicit RecordingHost(KernelHost& inner) : inner(inner) {}

    std::string_view backend() const noexcept override
    {
        return inner.backend();
    }
    std::optional<std::string> read(const std::string& path) override
    {
        auto value = inner.read(path);
        note('r', path, [&] {
            if (value)
            {
                std::ofstream(file(path)) << *value;
            }
        });
        return value;
    }
    void write(const std::string& path, std::string_view value) override
    {
        inner.write(path, value);
    }
    std::optional<std::string> readLinkName(const std::string& path) override
    {
        auto name = inner.readLinkName(path);
        note('l', path, [&] {
            if (name && !fs::is_symlink(root / path))
            {
                fs::path where = file(path);
                std::error_code ignored;
                fs::remove_all(where, ignored);
                fs::create_symlink("../" + *name, where);
            }
        });
        return name;
    }
    std::vector<std::string> list(const std::string& path) override
    {
        auto entries = inner.list(path);
        note('d', path, [&] {
            fs::create_directories(root / path);
            for (const std::string& entry : entries)
            {
                if (!fs::exists(fs::symlink_status(root / path / entry)))
                {
                    fs::create_directories(root / path / entry);
                }
            }
        });
        return entries;
    }
    bool exists(const std::string& path) override
    {
        bool found = inner.exists(path);
        note('e', path, [&] {
            if (found && !fs::exists(fs::symlink_status(root / path)))
            {
                std::ofstream{file(path)};
            }
        });
        return found;
    }
    void modprobe(const std::string& module) override
    {
        inner.modprobe(module);
    }
    std::string modulesAlias() override
    {
        return inner.modulesAlias();
    }
    bool devNodeExists(const std::string& path) override
    {
        return inner.devNodeExists(path);
    }
    bool waitDevNode(const std::string& path,
                     std::chrono::milliseconds timeout) override
    {
        return inner.waitDevNode(path, timeout);
    }
    std::unique_ptr<vfiod::UeventSource> openUevents() override
    {
        return inner.openUevents();
    }

    void save(const fs::path& out)
    {
        fs::create_directories(out);
        std::ofstream manifest(out / "manifest");
        for (const auto& [op, path] : ops)
        {
            manifest << op << ' ' << path << '\n';
        }
    }

    fs::path root;

  private:
    template <typename F>
    void note(char op, const std::string& path, F&& materialise)
    {
        std::lock_guard guard(mutex);
        ops.emplace_back(op, path);
        try
        {
            materialise();
        }
        catch (const fs::filesystem_error&)
        {
            // A path through a link the tree keeps as a link: the replay
            // makes the same call and gets the same kind of answer.
        }
    }

    fs::path file(const std::string& path)
    {
        fs::path where = root / path;
        fs::create_directories(where.parent_path());
        return where;
    }

    KernelHost& inner;
    std::mutex mutex;
    std::vector<std::pair<char, std::string>> ops;
};

int record(const std::string& hostFile, const std::string& state,
           const std::string& out)
{
    SimHost sim(hostFile, state);
    RecordingHost recording(sim);
    recording.root = fs::path(out) / "sys";
    fs::remove_all(recording.root);
    fs::create_directories(recording.root);
    vfiod::DeviceManager manager(recording, vfiod::ManagerOptions{});
    auto problems = manager.enumerate();
    recording.save(out);
    std::printf("{\"devices\": %zu, \"unreadable\": %zu}\n",
                manager.addresses().size(), problems.size());
    return 0;
}

std::vector<PciAddress> virtualFunctions(SimHost& sim, const PciAddress& pf,
                                         int count)
{
    std::vector<PciAddress> vfs;
    for (int i = 0; i < count; ++i)
    {
        auto name = sim.readLinkName(
            vfiod::sysfs::deviceAttr(pf, "virtfn" + std::to_string(i)));
        if (name)
        {
            vfs.push_back(PciAddress::parse(*name));
        }
    }
    return vfs;
}

size_t onVfio(SimHost& sim, const std::vector<PciAddress>& devices)
{
    // One look at one moment, so that the watcher does not compete with
    // vfiod for the simulated kernel's lock once per VF.
    size_t bound = 0;
    sim.readTogether([&] {
        for (const PciAddress& d : devices)
        {
            bound += sim.readLinkName(vfiod::sysfs::deviceAttr(d, "driver")) ==
                     std::optional<std::string>("vfio-pci");
        }
    });
    return bound;
}

double since(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

void report(double seconds, int vfs, size_t bound)
{
    std::printf("{\"seconds\": %.6f, \"vfs\": %d, \"bound\": %zu}\n", seconds,
                vfs, bound);
}

int storm(const std::string& hostFile, const std::string& state,
          const PciAddress& pf, int count)
{
    SimHost sim(hostFile, state);
    auto start = Clock::now();
    sim.write(vfiod::sysfs::deviceAttr(pf, "sriov_numvfs"),
              std::to_string(count));
    auto vfs = virtualFunctions(sim, pf, count);
    auto deadline = start + std::chrono::minutes(10);
    size_t bound = 0;
    // Polled, not watched: 20 ms is well under a storm's length, and the
    // last poll's lateness is at most that.
    while ((bound = onVfio(sim, vfs)) < vfs.size() && Clock::now() < deadline)
    {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    report(since(start), count, bound);
    return bound == static_cast<size_t>(count) ? 0 : 1;
}

int stormRaw(const std::string& hostFile, const std::string& state,
             const PciAddress& pf, int count)
{
    SimHost sim(hostFile, state);
    auto start = Clock::now();
    sim.write(vfiod::sysfs::deviceAttr(pf, "sriov_drivers_autoprobe"), "0");
    sim.write(vfiod::sysfs::deviceAttr(pf, "sriov_numvfs"),
              std::to_string(count));
    auto vfs = virtualFunctions(sim, pf, count);
    for (const PciAddress& vf : vfs)
    {
        sim.write(vfiod::sysfs::deviceAttr(vf, "driver_override"), "vfio-pci");
        sim.write(std::string(vfiod::sysfs::driversProbe), vf.str());
    }
    double seconds = since(start);
    size_t bound = onVfio(sim, vfs);
    report(seconds, count, bound);
    return bound == static_cast<size_t>(count) ? 0 : 1;
}

int holders(const std::string& dev, int reps)
{
    LinuxRoots roots;
    roots.dev = dev;
    LinuxHost host(roots);
    std::vector<VfioHolder> found;
    std::string seconds;
    for (int i = 0; i < reps; ++i)
    {
        auto start = Clock::now();
        found = host.vfioHolders();
        seconds += (i == 0 ? "" : ", ") + std::to_string(since(start));
    }
    std::string nodes;
    for (const VfioHolder& holder : found)
    {
        nodes += (nodes.empty() ? "\"" : ", \"") + holder.node + "\"";
    }
    std::cout << "{\"seconds\": [" << seconds << "], \"nodes\": [" << nodes
              << "]}\n";
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> a(argv + 1, argv + argc);
    try
    {
        if (a.size() == 4 && a[0] == "record")
        {
            return record(a[1], a[2], a[3]);
        }
        if (a.size() == 3 && a[0] == "holders")
        {
            return holders(a[1], std::stoi(a[2]));
        }
        if (a.size() == 5 && (a[0] == "storm" || a[0] == "storm-raw"))
        {
            auto pf = PciAddress::parse(a[3]);
            int count = std::stoi(a[4]);
            return a[0] == "storm" ? storm(a[1], a[2], pf, count)
                                   : stormRaw(a[1], a[2], pf, count);
        }
    }
    catch (const std::exception& e)
    {
        std::cerr << "vfiod-bench-sim: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "usage: vfiod-bench-sim record HOST STATE OUT\n"
                 "       vfiod-bench-sim storm|storm-raw HOST STATE PF N\n"
                 "       vfiod-bench-sim holders DEV REPS\n";
    return 2;
}
