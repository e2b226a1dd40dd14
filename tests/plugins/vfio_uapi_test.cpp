// The vfio-pci plugin's ioctl layer (plugins/vfio-pci/vfio_uapi.c, the code
// the plugin runs) against a fake VFIO device implemented here: the fake
// decodes each request as the kernel's vfio_ioctl_device_feature() does and
// answers like a variant driver would.
extern "C"
{
#include "vfio_uapi.h"
#include "vfio_uapi_defs.h"
}

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace
{

constexpr int deviceFd = 1000;

struct Request
{
    unsigned long request;
    uint32_t argsz;
    uint32_t flags;
};

/** A device with migration flags, a state, and data fds it hands out. */
struct FakeVfioDevice
{
    uint64_t migrationFlags =
        VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY;
    uint32_t state = VFIO_DEVICE_STATE_RUNNING;
    uint64_t stopCopyLength = 12345;
    int dataFd = -1;
    int peerFd = -1; ///< the other end of the data fd's pipe
    bool resets = false;
    bool noMigration = false;
    std::vector<Request> requests;

    ~FakeVfioDevice()
    {
        if (peerFd >= 0)
        {
            ::close(peerFd);
        }
    }

    int feature(vfio_device_feature* f)
    {
        requests.push_back({VFIO_DEVICE_FEATURE, f->argsz, f->flags});
        uint32_t op = f->flags & ~VFIO_DEVICE_FEATURE_MASK;
        uint32_t which = f->flags & VFIO_DEVICE_FEATURE_MASK;
        if (noMigration)
        {
            return fail(ENOTTY);
        }
        switch (which)
        {
            case VFIO_DEVICE_FEATURE_MIGRATION:
            {
                if (op != VFIO_DEVICE_FEATURE_GET ||
                    f->argsz <
                        sizeof *f + sizeof(vfio_device_feature_migration))
                {
                    return fail(EINVAL);
                }
                vfio_device_feature_migration m{};
                m.flags = migrationFlags;
                std::memcpy(f->data, &m, sizeof m);
                return 0;
            }
            case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
                return migState(f, op);
            case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
            {
                if (op != VFIO_DEVICE_FEATURE_GET ||
                    f->argsz <
                        sizeof *f + sizeof(vfio_device_feature_mig_data_size))
                {
                    return fail(EINVAL);
                }
                vfio_device_feature_mig_data_size s{};
                s.stop_copy_length = stopCopyLength;
                std::memcpy(f->data, &s, sizeof s);
                return 0;
            }
            default:
                return fail(ENOTTY);
        }
    }

    int migState(vfio_device_feature* f, uint32_t op)
    {
        if (f->argsz < sizeof *f + sizeof(vfio_device_feature_mig_state))
        {
            return fail(EINVAL);
        }
        vfio_device_feature_mig_state m{};
        std::memcpy(&m, f->data, sizeof m);
        if (op == VFIO_DEVICE_FEATURE_GET)
        {
            m.device_state = state;
            std::memcpy(f->data, &m, sizeof m);
            return 0;
        }
        if (op != VFIO_DEVICE_FEATURE_SET ||
            m.device_state > VFIO_DEVICE_STATE_PRE_COPY_P2P ||
            m.device_state == VFIO_DEVICE_STATE_ERROR)
        {
            return fail(EINVAL);
        }
        m.data_fd = -1;
        bool save = (state == VFIO_DEVICE_STATE_RUNNING &&
                     m.device_state == VFIO_DEVICE_STATE_PRE_COPY) ||
                    (state == VFIO_DEVICE_STATE_STOP &&
                     m.device_state == VFIO_DEVICE_STATE_STOP_COPY);
        bool load = state == VFIO_DEVICE_STATE_STOP &&
                    m.device_state == VFIO_DEVICE_STATE_RESUMING;
        if (save || load)
        {
            int ends[2];
            if (::pipe2(ends, O_CLOEXEC) != 0)
            {
                return -1;
            }
            m.data_fd = save ? ends[0] : ends[1];
            peerFd = save ? ends[1] : ends[0];
            dataFd = m.data_fd;
            if (save)
            {
                (void)!::write(peerFd, "state", 5);
            }
        }
        state = m.device_state;
        std::memcpy(f->data, &m, sizeof m);
        return 0;
    }

    int precopyInfo(int fd, vfio_precopy_info* info)
    {
        requests.push_back({VFIO_MIG_GET_PRECOPY_INFO, info->argsz, 0});
        if (fd != dataFd || info->argsz < sizeof *info ||
            (state != VFIO_DEVICE_STATE_PRE_COPY &&
             state != VFIO_DEVICE_STATE_PRE_COPY_P2P))
        {
            return fail(EINVAL);
        }
        info->initial_bytes = 5;
        info->dirty_bytes = 7;
        return 0;
    }

    static int fail(int error)
    {
        errno = error;
        return -1;
    }
};

FakeVfioDevice* fake = nullptr;

int fakeIoctl(int fd, unsigned long request, void* arg)
{
    if (request == VFIO_MIG_GET_PRECOPY_INFO)
    {
        return fake->precopyInfo(fd, static_cast<vfio_precopy_info*>(arg));
    }
    if (fd != deviceFd)
    {
        return FakeVfioDevice::fail(EBADF);
    }
    if (request == VFIO_DEVICE_FEATURE)
    {
        return fake->feature(static_cast<vfio_device_feature*>(arg));
    }
    if (request == VFIO_DEVICE_RESET)
    {
        fake->resets = true;
        fake->state = VFIO_DEVICE_STATE_RUNNING;
        return 0;
    }
    return FakeVfioDevice::fail(ENOTTY);
}

class VfioUapiTest : public ::testing::Test
{
  protected:
    FakeVfioDevice device;

    void SetUp() override
    {
        fake = &device;
    }
    void TearDown() override
    {
        fake = nullptr;
    }
};

TEST_F(VfioUapiTest, GetFlagsEncodesTheFeatureRequest)
{
    uint64_t flags = 0;
    ASSERT_EQ(vfio_uapi_get_flags(fakeIoctl, deviceFd, &flags), 0);
    EXPECT_EQ(flags, 7U);
    ASSERT_EQ(device.requests.size(), 1U);
    EXPECT_EQ(device.requests[0].argsz, 16U); // header 8 + u64 flags
    EXPECT_EQ(device.requests[0].flags,
              VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION);
}

TEST_F(VfioUapiTest, SetStateReturnsTheDataFdOnDataArcs)
{
    int fd = -2;
    ASSERT_EQ(vfio_uapi_set_state(fakeIoctl, deviceFd,
                                  VFIO_DEVICE_STATE_RUNNING_P2P, &fd),
              0);
    EXPECT_EQ(fd, -1);
    EXPECT_EQ(device.requests.back().flags,
              VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
    EXPECT_EQ(device.requests.back().argsz, 16U);
    ASSERT_EQ(
        vfio_uapi_set_state(fakeIoctl, deviceFd, VFIO_DEVICE_STATE_STOP, &fd),
        0);
    ASSERT_EQ(vfio_uapi_set_state(fakeIoctl, deviceFd,
                                  VFIO_DEVICE_STATE_STOP_COPY, &fd),
              0);
    ASSERT_GE(fd, 0);
    char buf[8] = {};
    EXPECT_EQ(::read(fd, buf, sizeof buf), 5);
    EXPECT_STREQ(buf, "state");
    ::close(fd);

    uint32_t state = 0;
    ASSERT_EQ(vfio_uapi_get_state(fakeIoctl, deviceFd, &state), 0);
    EXPECT_EQ(state, VFIO_DEVICE_STATE_STOP_COPY);
    EXPECT_EQ(device.requests.back().flags,
              VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
}

TEST_F(VfioUapiTest, ErrorsComeBackAsNegativeErrno)
{
    int fd = 0;
    EXPECT_EQ(
        vfio_uapi_set_state(fakeIoctl, deviceFd, VFIO_DEVICE_STATE_ERROR, &fd),
        -EINVAL);
    EXPECT_EQ(fd, -1);
    device.noMigration = true;
    uint64_t flags = 0;
    EXPECT_EQ(vfio_uapi_get_flags(fakeIoctl, deviceFd, &flags), -ENOTTY);
    EXPECT_EQ(vfio_uapi_get_flags(fakeIoctl, 7, &flags), -EBADF);
}

TEST_F(VfioUapiTest, DataSizeAndPrecopyInfo)
{
    uint64_t size = 0;
    ASSERT_EQ(vfio_uapi_get_data_size(fakeIoctl, deviceFd, &size), 0);
    EXPECT_EQ(size, 12345U);
    EXPECT_EQ(device.requests.back().flags,
              VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE);

    int fd = -1;
    ASSERT_EQ(vfio_uapi_set_state(fakeIoctl, deviceFd,
                                  VFIO_DEVICE_STATE_PRE_COPY, &fd),
              0);
    ASSERT_GE(fd, 0);
    uint64_t initial = 0;
    uint64_t dirty = 0;
    ASSERT_EQ(vfio_uapi_get_precopy_info(fakeIoctl, fd, &initial, &dirty), 0);
    EXPECT_EQ(initial, 5U);
    EXPECT_EQ(dirty, 7U);
    EXPECT_EQ(device.requests.back().argsz, sizeof(vfio_precopy_info));
    ::close(fd);
    // Outside pre-copy the kernel answers EINVAL.
    device.state = VFIO_DEVICE_STATE_STOP;
    EXPECT_EQ(vfio_uapi_get_precopy_info(fakeIoctl, fd, &initial, &dirty),
              -EINVAL);
}

TEST_F(VfioUapiTest, ResetPutsTheDeviceBackInRunning)
{
    device.state = VFIO_DEVICE_STATE_ERROR;
    ASSERT_EQ(vfio_uapi_reset(fakeIoctl, deviceFd), 0);
    EXPECT_TRUE(device.resets);
    EXPECT_EQ(device.state, VFIO_DEVICE_STATE_RUNNING);
}

TEST_F(VfioUapiTest, TheRealIoctlOnANonVfioFdFails)
{
    int ends[2];
    ASSERT_EQ(::pipe(ends), 0);
    uint64_t flags = 0;
    EXPECT_LT(vfio_uapi_get_flags(vfio_uapi_ioctl, ends[0], &flags), 0);
    ::close(ends[0]);
    ::close(ends[1]);
}

} // namespace
