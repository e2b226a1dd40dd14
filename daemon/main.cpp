#include "startup.hpp"

int main(int argc, char** argv)
{
    return vfiod::daemon::runDaemon(argc, argv);
}
