#pragma once

#include "sim/sim_model.hpp"

#include <string>
#include <string_view>

/**
 * @brief The TOML host description (conf/sim-host.toml documents the
 * format): what the simulated machine looks like at boot.
 *
 * Every validation error is Error(Errc::InvalidArgument) with a message
 * that starts with "FILE:LINE:COL: ".
 */
namespace vfiod::sim
{

/**
 * @brief Reads and validates a host file into a booted model.
 * @throws Error(Errc::NotFound) "PATH: no such host description file" when
 *         it does not exist, Error(Errc::InvalidArgument) when it cannot be
 *         read or is not valid.
 */
Model loadHostFile(const std::string& path);

/** @brief The same from text; @p sourceName names it in errors. */
Model parseHostText(std::string_view text, const std::string& sourceName);

/**
 * @brief Parses one hot-added device: the keys of a [[device]] table at
 * top level (a "[[device]]" header with exactly one table is accepted
 * too). A hot-added device is probed like the kernel does, so "driver" is
 * refused. The address is not checked against @p model: the caller
 * reports a taken address as Busy.
 */
Device parseDeviceText(std::string_view text, const std::string& sourceName,
                       const Model& model);

} // namespace vfiod::sim
