// A stand-in for polkitd on a private test bus: owns
// org.freedesktop.PolicyKit1 and answers CheckAuthorization from a rules
// file, logging every question so tests can check what vfiod asked.
//
// Usage: mock_polkit --address ADDR --rules FILE --log FILE
//
// Rules: one "ACTION = yes|no|challenge|hold" per line ("*" for any other
// action), re-read on every call so a test can change its mind. "hold"
// never answers (until the mock exits): a polkit that keeps its callers
// waiting. The log
// gets one line per call:
//   action=org.vfiod1.bind subject=system-bus-name:1.5 flags=0
//   details=address=0000:03:00.0,device=10d3,...

#include <sdbus-c++/sdbus-c++.h>

#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace
{

using Subject =
    sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
using AuthorizationResult =
    sdbus::Struct<bool, bool, std::map<std::string, std::string>>;

std::string trim(const std::string& text)
{
    size_t begin = text.find_first_not_of(" \t");
    size_t end = text.find_last_not_of(" \t\r");
    return begin == std::string::npos ? ""
                                      : text.substr(begin, end - begin + 1);
}

std::string decision(const std::string& rulesFile, const std::string& action)
{
    std::ifstream in(rulesFile);
    std::map<std::string, std::string> rules;
    std::string line;
    while (std::getline(in, line))
    {
        size_t eq = line.find('=');
        if (eq != std::string::npos && line[0] != '#')
        {
            rules[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
        }
    }
    if (auto it = rules.find(action); it != rules.end())
    {
        return it->second;
    }
    if (auto it = rules.find("*"); it != rules.end())
    {
        return it->second;
    }
    return "no";
}

class Authority
{
  public:
    Authority(sdbus::IConnection& connection, std::string rules,
              std::string log) :
        object(sdbus::createObject(connection,
                                   "/org/freedesktop/PolicyKit1/Authority")),
        rules(std::move(rules)), log(std::move(log))
    {
        object->registerMethod("CheckAuthorization")
            .onInterface("org.freedesktop.PolicyKit1.Authority")
            .implementedAs(
                [this](sdbus::Result<AuthorizationResult>&& result,
                       const Subject& subject, const std::string& action,
                       const std::map<std::string, std::string>& details,
                       uint32_t flags, const std::string&) {
                    if (auto answer = check(subject, action, details, flags))
                    {
                        result.returnResults(*answer);
                    }
                    else
                    {
                        held.push_back(std::move(result));
                    }
                });
        object->finishRegistration();
    }

  private:
    /** @brief The answer, or none for "hold". */
    std::optional<AuthorizationResult>
        check(const Subject& subject, const std::string& action,
              const std::map<std::string, std::string>& details, uint32_t flags)
    {
        std::string name;
        auto it = std::get<1>(subject).find("name");
        if (it != std::get<1>(subject).end())
        {
            name = it->second.get<std::string>();
        }
        std::string detailText;
        for (const auto& [key, value] : details)
        {
            detailText += (detailText.empty() ? "" : ",") + key + "=" + value;
        }
        std::ofstream(log, std::ios::app)
            << "action=" << action << " subject=" << std::get<0>(subject) << ":"
            << name << " flags=" << flags << " details=" << detailText
            << std::endl;

        std::string answer = decision(rules, action);
        if (answer == "hold")
        {
            return std::nullopt;
        }
        return AuthorizationResult{answer == "yes", answer == "challenge",
                                   std::map<std::string, std::string>{}};
    }

    std::unique_ptr<sdbus::IObject> object;
    std::vector<sdbus::Result<AuthorizationResult>> held;
    std::string rules;
    std::string log;
};

} // namespace

int main(int argc, char** argv)
{
    std::map<std::string, std::string> args;
    for (int i = 1; i + 1 < argc; i += 2)
    {
        args[argv[i]] = argv[i + 1];
    }
    if (!args.contains("--address") || !args.contains("--rules") ||
        !args.contains("--log"))
    {
        std::cerr << "usage: mock_polkit --address ADDR --rules FILE --log "
                     "FILE\n";
        return 2;
    }
    try
    {
        auto connection =
            sdbus::createSessionBusConnectionWithAddress(args["--address"]);
        Authority authority(*connection, args["--rules"], args["--log"]);
        connection->requestName("org.freedesktop.PolicyKit1");
        connection->enterEventLoop();
    }
    catch (const sdbus::Error& e)
    {
        std::cerr << "mock_polkit: " << e.getName() << ": " << e.getMessage()
                  << "\n";
        return 1;
    }
    return 0;
}
