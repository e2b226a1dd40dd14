#pragma once

#include "linux/linux_host.hpp"

#include <string>

typedef struct _UMockdevTestbed UMockdevTestbed;

namespace vfiod::test
{

/** @brief The recordings in tests/fixtures/sysfs. */
inline constexpr const char* plainRecording = "q35-linux6.1-plain.umockdev";
inline constexpr const char* vfioSriovRecording =
    "q35-linux6.1-vfio-sriov.umockdev";

/**
 * @brief A umockdev testbed loaded with one recording of a real kernel's
 * sysfs (see tests/fixtures/sysfs/README.md).
 *
 * What umockdev creates below sysDir(): devices/... with the recorded
 * attributes and links, bus/pci/devices/<BDF> links to them, and per
 * device a "subsystem" link and a "uevent" file. It does not create
 * bus/pci/drivers nor kernel/iommu_groups, so the recorded driver and
 * iommu_group links dangle: readlink works on them, stat does not.
 *
 * Reading the tree needs no LD_PRELOAD; the testbed is removed on
 * destruction.
 */
class RecordingTestbed
{
  public:
    /**
     * @param recording a file name in tests/fixtures/sysfs, found through
     *        $VFIOD_SOURCE_ROOT.
     * @throws std::runtime_error when it cannot be loaded.
     */
    explicit RecordingTestbed(const std::string& recording);
    ~RecordingTestbed();
    RecordingTestbed(const RecordingTestbed&) = delete;
    RecordingTestbed& operator=(const RecordingTestbed&) = delete;

    /** @brief The testbed's sysfs root, ".../sys". */
    std::string sysDir() const;

    /** @brief LinuxRoots with sysfs and dev inside the testbed. */
    LinuxRoots roots() const;

    UMockdevTestbed* testbed() const
    {
        return bed;
    }

  private:
    UMockdevTestbed* bed = nullptr;
};

/**
 * @brief One testbed per recording, loaded on first use and kept until the
 * process exits: loading takes a good fraction of a second, and tests that
 * only read the tree can share it. Not thread safe.
 */
const RecordingTestbed& sharedRecording(const std::string& recording);

/**
 * @brief Whether the process runs under umockdev-wrapper (meson test sets
 * it up), without which libudev does not see a testbed's devices and events.
 */
bool underUmockdevWrapper();

/** @brief $VFIOD_SOURCE_ROOT/tests/fixtures/sysfs/<name>. */
std::string recordingPath(const std::string& name);

} // namespace vfiod::test
