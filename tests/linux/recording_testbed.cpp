#include "recording_testbed.hpp"

#include "test_support.hpp"

#include <umockdev.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>

namespace vfiod::test
{

std::string recordingPath(const std::string& name)
{
    return requiredEnv("VFIOD_SOURCE_ROOT") + "/tests/fixtures/sysfs/" + name;
}

const RecordingTestbed& sharedRecording(const std::string& recording)
{
    static std::map<std::string, std::unique_ptr<RecordingTestbed>> beds;
    std::unique_ptr<RecordingTestbed>& bed = beds[recording];
    if (!bed)
    {
        bed = std::make_unique<RecordingTestbed>(recording);
    }
    return *bed;
}

RecordingTestbed::RecordingTestbed(const std::string& recording) :
    bed(umockdev_testbed_new())
{
    GError* error = nullptr;
    std::string path = recordingPath(recording);
    if (!umockdev_testbed_add_from_file(bed, path.c_str(), &error))
    {
        std::string message = "cannot load " + path + ": " +
                              (error != nullptr ? error->message : "?");
        g_clear_error(&error);
        g_object_unref(bed);
        throw std::runtime_error(message);
    }
}

RecordingTestbed::~RecordingTestbed()
{
    // Removes the testbed directory and unsets UMOCKDEV_DIR.
    g_object_unref(bed);
}

std::string RecordingTestbed::sysDir() const
{
    return umockdev_testbed_get_sys_dir(bed);
}

LinuxRoots RecordingTestbed::roots() const
{
    LinuxRoots roots;
    roots.sysfs = sysDir();
    roots.dev = std::string(umockdev_testbed_get_root_dir(bed)) + "/dev";
    return roots;
}

bool underUmockdevWrapper()
{
    const char* preload = std::getenv("LD_PRELOAD");
    return preload != nullptr &&
           std::string(preload).find("umockdev") != std::string::npos;
}

} // namespace vfiod::test
