// Per-call figures (Google Benchmark): what one D-Bus request to vfiod
// costs next to a Peer.Ping on the same bus, and what a Bind + Unbind
// costs next to a Ping plus the kernel writes of the same sequence.
//
// Environment (bench/run.py sets it): VFIOD_BENCH_BUS, VFIOD_BENCH_DEVICE
// (a device on its host driver), VFIOD_BENCH_HOST_DRIVER (that driver),
// VFIOD_BENCH_SIM_HOST and VFIOD_BENCH_BASELINE_STATE (a simulated kernel
// of the same size as vfiod's, which vfiod does not watch, for the raw
// writes), VFIOD_BENCH_REPETITIONS, VFIOD_BENCH_QUICK.

#include "bus_client.hpp"
#include "kernel/sysfs_layout.hpp"
#include "sim/sim_host.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>

namespace
{

using namespace vfiod::bench;

struct Setup
{
    std::string bus = requiredEnv("VFIOD_BENCH_BUS");
    std::string device = requiredEnv("VFIOD_BENCH_DEVICE");
    std::string hostDriver = requiredEnv("VFIOD_BENCH_HOST_DRIVER");
    std::string path = devicePath(device);
};

const Setup& setup()
{
    static const Setup s;
    return s;
}

BusClient& client()
{
    static BusClient c(setup().bus);
    return c;
}

int envInt(const char* name, int fallback)
{
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
    {
        return 0;
    }
    std::sort(v.begin(), v.end());
    // Nearest rank: with few repetitions p95 is the slowest one, never an
    // interpolation between samples that did not happen.
    size_t rank =
        static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

double p95(const std::vector<double>& v)
{
    return percentile(v, 0.95);
}
double minimum(const std::vector<double>& v)
{
    return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}
double maximum(const std::vector<double>& v)
{
    return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

/** Runs @p body per iteration; an exception ends the benchmark as failed. */
template <typename F>
void measure(benchmark::State& state, F&& body)
{
    try
    {
        body(); // first use: connections, caches, module loads
        for (auto _ : state)
        {
            body();
        }
    }
    catch (const std::exception& e)
    {
        state.SkipWithError(e.what());
    }
}

void ping(benchmark::State& state)
{
    measure(state, [] { client().ping(); });
}

void deviceProperty(benchmark::State& state)
{
    measure(state, [] { client().getProperty(setup().path, "Driver"); });
}

void getDevice(benchmark::State& state)
{
    measure(state, [] {
        benchmark::DoNotOptimize(client().getDevice(setup().device));
    });
}

void getManagedObjects(benchmark::State& state)
{
    size_t objects = 0;
    measure(state, [&] { objects = client().getManagedObjects(); });
    state.counters["objects"] = static_cast<double>(objects);
}

void bindUnbind(benchmark::State& state)
{
    measure(state, [] {
        client().call(setup().path, deviceInterface, "Bind", true);
        client().call(setup().path, deviceInterface, "Unbind", true);
    });
}

/**
 * The floor of a Bind + Unbind: one round trip to vfiod, and the six
 * writes of the kernel's sequence (driver_override, unbind, drivers_probe;
 * clear driver_override, unbind, drivers_probe) on a simulated kernel as
 * large as vfiod's.
 */
void pingPlusSysfsWrites(benchmark::State& state)
{
    static vfiod::SimHost sim(requiredEnv("VFIOD_BENCH_SIM_HOST"),
                              requiredEnv("VFIOD_BENCH_BASELINE_STATE"));
    const auto address = vfiod::PciAddress::parse(setup().device);
    const std::string name = address.str();
    const std::string override =
        vfiod::sysfs::deviceAttr(address, "driver_override");
    const std::string probe(vfiod::sysfs::driversProbe);
    measure(state, [&] {
        client().ping();
        sim.write(override, "vfio-pci");
        sim.write(vfiod::sysfs::driverFile(setup().hostDriver, "unbind"), name);
        sim.write(probe, name);
        sim.write(override, "\n");
        sim.write(vfiod::sysfs::driverFile("vfio-pci", "unbind"), name);
        sim.write(probe, name);
    });
}

} // namespace

int main(int argc, char** argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
    {
        return 2;
    }
    const bool quick = envInt("VFIOD_BENCH_QUICK", 0) != 0;
    const int repetitions = envInt("VFIOD_BENCH_REPETITIONS", quick ? 2 : 15);
    // Fixed iteration counts: every repetition is one sample of the same
    // size, so median, p95, min and max compare across runs.
    auto add = [&](const char* name, void (*fn)(benchmark::State&),
                   int iterations) {
        benchmark::RegisterBenchmark(name, fn)
            ->Iterations(quick ? std::max(1, iterations / 20) : iterations)
            ->Repetitions(repetitions)
            ->ReportAggregatesOnly(true)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond)
            ->ComputeStatistics("p95", p95)
            ->ComputeStatistics("min", minimum)
            ->ComputeStatistics("max", maximum);
    };
    add("ping", ping, 400);
    add("device_property", deviceProperty, 400);
    add("get_device", getDevice, 400);
    add("get_managed_objects", getManagedObjects, 20);
    add("bind_unbind", bindUnbind, 20);
    add("ping_plus_sysfs_writes", pingPlusSysfsWrites, 20);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
