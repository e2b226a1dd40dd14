#pragma once

#include "sim/sim_model.hpp"

#include <string_view>

/**
 * @brief The simulated /dev/vfio: which of its nodes exist, from the model
 * alone, as the vfio core creates and removes them with the bindings.
 */
namespace vfiod::sim
{

/**
 * @brief Whether /dev/@p path exists: "vfio", "vfio/vfio" and
 * "vfio/devices" while vfio is loaded, "vfio/devices/vfioN" for a device's
 * cdev, "vfio/N" for a group with a member bound to a vfio driver.
 */
bool devNodeExists(const Model& model, std::string_view path);

} // namespace vfiod::sim
