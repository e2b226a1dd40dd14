#include "sim/sim_host.hpp"

#include "sim/sim_kernel.hpp"

namespace vfiod
{

SimHost::SimHost(const std::string& hostFile, const std::string& stateDir) :
    kernel(std::make_unique<SimKernel>(hostFile, stateDir))
{}

SimHost::~SimHost() = default;

std::optional<std::string> SimHost::read(const std::string& path)
{
    return kernel->read(path);
}

void SimHost::write(const std::string& path, std::string_view value)
{
    kernel->write(path, value);
}

std::optional<std::string> SimHost::readLinkName(const std::string& path)
{
    return kernel->readLinkName(path);
}

std::vector<std::string> SimHost::list(const std::string& path)
{
    return kernel->list(path);
}

bool SimHost::exists(const std::string& path)
{
    return kernel->exists(path);
}

void SimHost::readTogether(const std::function<void()>& reads)
{
    kernel->readTogether(reads);
}

void SimHost::modprobe(const std::string& module)
{
    kernel->modprobe(module);
}

std::string SimHost::modulesAlias()
{
    return kernel->modulesAlias();
}

bool SimHost::devNodeExists(const std::string& path)
{
    return kernel->devNodeExists(path);
}

bool SimHost::waitDevNode(const std::string& path,
                          std::chrono::milliseconds timeout)
{
    return kernel->waitDevNode(path, timeout);
}

std::unique_ptr<UeventSource> SimHost::openUevents()
{
    return kernel->openUevents();
}

UniqueFd SimHost::openAttribute(const std::string& path, int flags)
{
    return kernel->openAttribute(path, flags);
}

void SimHost::hotAdd(const std::string& deviceToml)
{
    kernel->hotAdd(deviceToml);
}

void SimHost::hotRemove(const PciAddress& address)
{
    kernel->hotRemove(address);
}

void SimHost::openDevice(const PciAddress& address)
{
    kernel->openDevice(address);
}

void SimHost::closeDevice(const PciAddress& address)
{
    kernel->closeDevice(address);
}

std::vector<VfioHolder> SimHost::vfioHolders()
{
    return kernel->vfioHolders();
}

const std::string& SimHost::stateDir() const noexcept
{
    return kernel->stateDir();
}

} // namespace vfiod
