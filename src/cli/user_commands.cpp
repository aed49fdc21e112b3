// users add | list | remove, and token --user NAME (issue 14). The local CLI
// is trusted like an admin token: whoever can read the data directory owns
// every user's data anyway.
#include <memory>
#include <ostream>

#include "app/users.h"
#include "cli/commands.h"
#include "core/error.h"

namespace kioku::cli {

void register_user_commands(CLI::App& app, CommandTable& table) {
  auto* users = app.add_subcommand("users", "Users of this data directory and their API tokens");
  users->require_subcommand(1);
  users->fallthrough();
  {
    auto* cmd = users->add_subcommand("add", "Add a user and print its first API token (shown only this once)");
    auto name = std::make_shared<std::string>();
    auto admin = std::make_shared<bool>(false);
    cmd->add_option("name", *name, "User name (letters, digits, . - _)")->required();
    cmd->add_flag("--admin", *admin, "May manage users and server settings over the API");
    table[cmd] = [name, admin](AppContext& ctx, CommandIo& io) {
      check_user_id(*name);
      ctx.ensure_initialized();
      ensure_default_user(ctx);
      User u = ctx.users().add_user(*name, *admin);
      const std::string token = issue_token(ctx.users(), u.id, "created with the user");
      u.tokens = 1;
      if (io.json) {
        auto j = user_json(u);
        j["token"] = token;
        io.out << j.dump() << "\n";
      } else {
        io.out << "Added user " << u.id << (u.admin ? " (admin)" : "") << ". Its API token (shown only now):\n"
               << token << "\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = users->add_subcommand("list", "Users, whether they are admins, and how many tokens each has");
    table[cmd] = [](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      ensure_default_user(ctx);
      const auto all = ctx.users().list_users();
      if (io.json) {
        nlohmann::json items = nlohmann::json::array();
        for (const auto& u : all) items.push_back(user_json(u));
        io.out << nlohmann::json{{"items", items}}.dump() << "\n";
      } else {
        const std::string owner = owner_user_id(ctx);
        for (const auto& u : all) {
          io.out << u.id << (u.admin ? "  admin" : "") << "  " << u.tokens << " token(s)"
                 << (u.id == owner ? "  (owner; also <data>/token)" : "") << "\n";
        }
      }
      return 0;
    };
  }
  {
    auto* cmd = users->add_subcommand(
        "remove", "Remove a user and its tokens; refused while it has data, unless --delete-data deletes that too");
    auto name = std::make_shared<std::string>();
    auto delete_data = std::make_shared<bool>(false);
    cmd->add_option("name", *name, "User name")->required();
    cmd->add_flag("--delete-data", *delete_data,
                  "Also delete every memory, journal, job, graph fact and core block of the user (one transaction)");
    table[cmd] = [name, delete_data](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      const auto removed = remove_user(ctx, *name, *delete_data);
      if (io.json) io.out << removed.dump() << "\n";
      else
        io.out << "Removed user " << *name << ": " << removed["tokens"].get<int64_t>() << " token(s), "
               << removed["data_rows"].get<int64_t>() << " row(s) of data, " << removed["draft_entries"].get<int>()
               << " journal draft(s).\n";
      return 0;
    };
  }
}

}  // namespace kioku::cli
