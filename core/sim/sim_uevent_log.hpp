#pragma once

#include "kernel/kernel_host.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vfiod::sim
{

/**
 * @brief The simulated kernel's uevent broadcast: an append-only file in
 * the state directory, one event per line, that every process tails.
 *
 * A line is tab separated: seqnum, action, subsystem, sysname, devpath,
 * driver, then KEY=VALUE properties, each field escaped (sim_text.hpp).
 * Only complete lines count, so a writer killed mid-append never shows a
 * half event; the next append starts on a fresh line.
 */
class SimUeventLog
{
  public:
    explicit SimUeventLog(std::string path) : path(std::move(path)) {}

    /** @brief Creates the log if missing. */
    void create() const;

    /** @brief Appends events in one write; hold the state lock. */
    void append(const std::vector<Uevent>& events) const;

    /** @brief Every event logged so far. */
    std::vector<Uevent> readAll() const;

    /**
     * @brief Tails the log from its current end. fd() is an inotify
     * descriptor watching the file for IN_MODIFY, so it becomes readable
     * whenever any process appends.
     */
    std::unique_ptr<UeventSource> subscribe() const;

  private:
    std::string path;
};

/** @brief One log line, newline included. */
std::string formatUevent(const Uevent& event);

/** @brief Parses one line (without its newline); nullopt if malformed. */
std::optional<Uevent> parseUevent(std::string_view line);

} // namespace vfiod::sim
