#include "bus_client.hpp"
#include "commands.hpp"
#include "output.hpp"

#include <iostream>

namespace vfioctl
{

namespace
{

std::string text(const PropertyMap& explanation, const std::string& key)
{
    auto found = explanation.find(key);
    return found == explanation.end() ? "" : formatProperty(key, found->second);
}

bool flag(const PropertyMap& explanation, const std::string& key)
{
    auto found = explanation.find(key);
    return found != explanation.end() &&
           found->second.containsValueOfType<bool>() &&
           found->second.get<bool>();
}

void printExplanation(const std::string& address,
                      const PropertyMap& explanation)
{
    std::cout << address << ": ";
    if (!flag(explanation, "matched"))
    {
        std::cout << "no rule matches\n";
    }
    else
    {
        std::cout << "rule \"" << text(explanation, "rule") << "\" ("
                  << text(explanation, "file") << ":"
                  << text(explanation, "line") << ")\n";
    }
    auto line = [&](const char* label, const std::string& value) {
        std::cout << "  " << label << value << "\n";
    };
    std::string bind = text(explanation, "bind");
    line("bind:             ", bind.empty() ? "no" : bind);
    if (!text(explanation, "driver").empty())
    {
        line("driver:           ", text(explanation, "driver"));
    }
    std::string reset = text(explanation, "reset_method");
    line("reset method:     ", reset.empty() ? "the kernel's order" : reset);
    std::string plugin = text(explanation, "plugin");
    line("plugin:           ", plugin.empty() ? "the default" : plugin);
    std::string users = text(explanation, "users");
    std::string groups = text(explanation, "groups");
    if (!users.empty() || !groups.empty())
    {
        line("may assign:       ",
             users + (users.empty() || groups.empty() ? "" : ", ") +
                 (groups.empty() ? "" : "groups " + groups));
    }
    line("on release:       ",
         std::string(text(explanation, "on_release") == "host"
                         ? "back to its host driver"
                         : "stays on vfio") +
             (flag(explanation, "reset_on_release") ? ", after a reset"
                                                    : ", without a reset"));
    line("plan:             ", text(explanation, "plan"));
}

} // namespace

ExitCode runExplain(const GlobalOptions& options, const std::string& address)
{
    BusClient client(options.busAddress);
    PropertyMap explanation = client.explain(address);
    if (options.json)
    {
        JsonWriter json(std::cout);
        json.beginObject();
        json.key("Address");
        json.value(address);
        for (const auto& [key, value] : explanation)
        {
            json.key(key);
            writeJsonValue(json, value);
        }
        json.endObject();
        std::cout << '\n';
    }
    else
    {
        printExplanation(address, explanation);
    }
    return ExitCode::ok;
}

ExitCode runUdevRules(const GlobalOptions& options)
{
    BusClient client(options.busAddress);
    std::string rules = client.udevRules();
    if (options.json)
    {
        JsonWriter json(std::cout);
        json.beginObject();
        json.key("rules");
        json.value(rules);
        json.endObject();
        std::cout << '\n';
    }
    else
    {
        std::cout << rules;
    }
    return ExitCode::ok;
}

} // namespace vfioctl
