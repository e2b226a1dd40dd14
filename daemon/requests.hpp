#pragma once

#include "operations.hpp"

#include <sdbus-c++/MethodResult.h>

#include <string>

namespace vfiod::daemon
{

class MainLoop;
class WorkerPool;

/**
 * @brief The dispatcher side of the asynchronous methods: wraps the
 * sdbus::Result in its reply guard and queues the call for a worker, in
 * the device's lane, so that calls on one device run in order and a slow
 * one never holds up another device. Main loop thread only; never blocks.
 */
class Requests
{
  public:
    Requests(MainLoop& loop, WorkerPool& pool, Operations& operations,
             DeviceService& service);

    void bind(DeviceRequest request, BindOptions options,
              sdbus::Result<>&& result);
    void unbind(DeviceRequest request, sdbus::Result<>&& result);
    void assign(DeviceRequest request, std::string driver,
                sdbus::Result<sdbus::UnixFd>&& result);
    void reattach(DeviceRequest request, std::string token,
                  sdbus::Result<sdbus::UnixFd>&& result);
    void release(DeviceRequest request, sdbus::Result<>&& result);
    void reset(DeviceRequest request, std::string method,
               sdbus::Result<>&& result);
    void reload(std::string sender, sdbus::Result<>&& result);

    void setMigrationState(DeviceRequest request, std::string state,
                           sdbus::Result<std::vector<std::string>>&& result);
    /**
     * @brief SaveState, LoadState: @p fd is vfiod's own duplicate of the
     * message's fd. The job is cancellable (CancelMigration) as soon as
     * it is queued.
     */
    void saveState(DeviceRequest request, UniqueFd fd,
                   sdbus::Result<>&& result);
    void loadState(DeviceRequest request, UniqueFd fd,
                   sdbus::Result<>&& result);
    /** @brief Migrate, on the source's lane; the target is held by it. */
    void migrate(DeviceRequest request, PciAddress target,
                 sdbus::Result<>&& result);
    /**
     * @brief CancelMigration, on a lane of its own per device: it must not
     * wait behind the save it cancels.
     */
    void cancelMigration(DeviceRequest request, sdbus::Result<>&& result);
    void explain(PciAddress address,
                 sdbus::Result<std::map<std::string, sdbus::Variant>>&& result);

    /** @brief Applies the policy to a device, on its lane. */
    void applyPolicy(const PciAddress& address);

    /** @brief A lease hung up: release on the device's lane. */
    void leaseExpired(const PciAddress& address, const std::string& owner);

    /**
     * @brief Uevents, applied in order on a lane of their own; a device
     * that appeared then gets the policy applied on its own lane, so one
     * slow bind never holds up the events of the others.
     */
    void uevents(std::vector<Uevent> events);

  private:
    void submitMigration(DeviceRequest request, MigrationJob job,
                         sdbus::Result<>&& result,
                         void (DeviceService::*run)(const Request&,
                                                    MigrationJob&));

    MainLoop& loop;
    WorkerPool& pool;
    Operations& operations;
    DeviceService& service;
};

} // namespace vfiod::daemon
