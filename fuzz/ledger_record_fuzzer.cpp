// The ledger record (ledger/ledger.cpp): the text of
// /var/lib/vfiod/devices/ADDRESS that vfiod reads back at every start,
// whatever a crash, a copy by hand or a full disk left there.

#include "fuzz_check.hpp"
#include "ledger/ledger.hpp"

#include <string>

using vfiod::Errc;
using vfiod::Error;
using vfiod::LedgerRecord;
namespace fuzz = vfiod::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    // Ledger::load reads nothing larger than this.
    if (size > vfiod::maxRecordBytes)
    {
        return 0;
    }
    LedgerRecord record;
    try
    {
        record = vfiod::parseLedgerRecord(std::string(fuzz::text(data, size)));
    }
    catch (const Error& e)
    {
        fuzz::requireRefusal(e, Errc::InvalidArgument, "parseLedgerRecord");
        return 0;
    }
    // What was read can be written back, and reads as the same record.
    std::string again = vfiod::formatLedgerRecord(record);
    fuzz::require(vfiod::parseLedgerRecord(again) == record,
                  "a record read, written and read again is the same");
    return 0;
}
