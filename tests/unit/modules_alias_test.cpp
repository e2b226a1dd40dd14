#include "pci/modules_alias.hpp"

#include <gtest/gtest.h>

using vfiod::bestVfioModule;

namespace
{

// Lines as depmod writes them; the vfio_pci catch-all comes from
// PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID).
constexpr const char* aliases =
    "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n"
    "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n"
    "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n"
    "alias vfio_pci:v000015B3d0000101Fsv*sd*bc*sc*i* mlx5_vfio_pci\n"
    "alias vfio_pci:v000019E5d0000A251sv*sd*bc*sc*i* hisi_acc_vfio_pci\n"
    "alias vfio_pci:v000015B3d0000101Esv000015B3sd00000001bc*sc*i* "
    "special_vfio_pci\n"
    "alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci\n";

} // namespace

TEST(ModulesAlias, FewestWildcardsWins)
{
    // A ConnectX VF with a generic subsystem: the mlx5 variant.
    EXPECT_EQ(bestVfioModule(aliases, "pci:v000015B3d0000101Esv000015B3sd0000"
                                      "0099bc02sc00i00"),
              "mlx5_vfio_pci");
    // The same device with the subsystem a more specific alias names.
    EXPECT_EQ(bestVfioModule(aliases, "pci:v000015B3d0000101Esv000015B3sd0000"
                                      "0001bc02sc00i00"),
              "special_vfio_pci");
}

TEST(ModulesAlias, GenericCatchAllForOtherDevices)
{
    EXPECT_EQ(bestVfioModule(aliases, "pci:v00008086d000010D3sv00008086sd0000"
                                      "A01Fbc02sc00i00"),
              "vfio_pci");
}

TEST(ModulesAlias, HostDriverAliasesAreNotVfioCandidates)
{
    constexpr const char* hostOnly =
        "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n";
    EXPECT_FALSE(bestVfioModule(hostOnly, "pci:v00008086d000010D3sv00008086"
                                          "sd0000A01Fbc02sc00i00"));
}

TEST(ModulesAlias, NonPciModaliasMatchesNothing)
{
    EXPECT_FALSE(bestVfioModule(aliases, "usb:v1D6Bp0002"));
    EXPECT_FALSE(bestVfioModule(aliases, ""));
    EXPECT_FALSE(bestVfioModule("", "pci:v000015B3d0000101Esv0sd0bc02sc00i00"));
}

TEST(ModulesAlias, IgnoresMalformedLines)
{
    constexpr const char* broken = "alias vfio_pci:v*d*sv*sd*bc*sc*i*\n"
                                   "garbage\n"
                                   "alias vfio_pci:v000015B3d*sv*sd*bc*sc*i* "
                                   "mlx5_vfio_pci";
    EXPECT_EQ(bestVfioModule(broken, "pci:v000015B3d0000101Esv0sd0bc02sc00i00"),
              "mlx5_vfio_pci");
}
