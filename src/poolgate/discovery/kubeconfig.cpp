#include "poolgate/discovery/kubeconfig.hpp"

#include "poolgate/config/quote.hpp"
#include "poolgate/discovery/error.hpp"

#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace poolgate::discovery {
namespace {

// Kubeconfigs, certificates, keys and tokens are a few KiB. A kubeconfig naming a device, a FIFO or a huge file
// must not block a refresh (the control thread) or fill memory, so only regular files this small are read.
constexpr std::size_t kMaxFileBytes = 1024 * 1024;

// The whole content of `path`, or (as `error`) why it cannot be read.
struct SmallFile {
  std::string content;
  std::string error;
};

SmallFile read_small_regular_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below like any non-regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return {"", std::strerror(errno)};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat status {};
  if (::fstat(fd, &status) != 0) return {"", std::strerror(errno)};
  if (!S_ISREG(status.st_mode)) return {"", "not a regular file"};
  SmallFile file;
  char buffer[16384];
  // st_size is not trusted (files under /proc report 0): the limit is enforced on what is actually read.
  while (file.content.size() <= kMaxFileBytes) {
    const ssize_t count = ::read(fd, buffer, sizeof buffer);
    if (count == 0) return file;
    if (count < 0) {
      if (errno == EINTR) continue;
      return {"", std::strerror(errno)};
    }
    file.content.append(buffer, static_cast<std::size_t>(count));
  }
  return {"", "larger than " + std::to_string(kMaxFileBytes / 1024) + " KiB"};
}

// Reads one kubeconfig document; every error names the file and the field.
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), directory_(std::filesystem::path(path).parent_path()) {}

  Kubeconfig read(std::string_view text) {
    try {
      return read_document(text);
    } catch (const YAML::Exception& error) {
      // A shape the checks below did not foresee: still one clear message, never a crash.
      fail("", "unexpected structure: " + config::printable(error.what(), 300));
    }
  }

 private:
  Kubeconfig read_document(std::string_view text) {
    const YAML::Node root = [&] {
      try {
        return YAML::Load(std::string(text));
      } catch (const YAML::Exception& error) {
        fail("", "not valid YAML: " + config::printable(error.what(), 300));
      }
    }();
    if (!root.IsMap()) fail("", "expected a YAML mapping with clusters, contexts, users and current-context");

    Kubeconfig result;
    result.path = path_;
    result.context = string_field(root, "current-context", "").value_or("");
    if (result.context.empty()) fail("current-context", "not set");

    const Entry context = find_named(root, "contexts", "context", result.context, "current-context");
    if (!context.body.IsMap()) fail(context.where, "expected a mapping with cluster and user");
    const std::string cluster_name = string_field(context.body, "cluster", context.where).value_or("");
    if (cluster_name.empty()) fail(context.where + ".cluster", "not set");
    const std::string user_name = string_field(context.body, "user", context.where).value_or("");

    const Entry cluster = find_named(root, "clusters", "cluster", cluster_name, context.where + ".cluster");
    read_cluster(cluster, result);
    // A context without a user is anonymous: the API server decides whether that may list endpoints.
    if (!user_name.empty()) {
      read_user(find_named(root, "users", "user", user_name, context.where + ".user"), result);
    }
    return result;
  }

  struct Entry {
    std::string where;  // "users[1].user"
    YAML::Node body;
  };

  [[noreturn]] void fail(const std::string& field, const std::string& why) const {
    throw config::ConfigError("kubeconfig " + path_ + ": " + (field.empty() ? "" : field + ": ") + why);
  }

  // A string field of `map`; nullopt when absent or null, an error when it is a list or a mapping.
  std::optional<std::string> string_field(const YAML::Node& map, const char* key, const std::string& where) const {
    const YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) return std::nullopt;
    if (!node.IsScalar()) fail(field_name(where, key), "expected a string");
    return node.Scalar();
  }

  bool bool_field(const YAML::Node& map, const char* key, const std::string& where) const {
    const YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) return false;
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      fail(field_name(where, key), "expected true or false");
    }
    return value;
  }

  static std::string field_name(const std::string& where, const char* key) {
    return where.empty() ? std::string(key) : where + "." + key;
  }

  // The entry of list `list_key` whose name is `name`: its `body_key` mapping, e.g. clusters[0].cluster.
  Entry find_named(const YAML::Node& root, const char* list_key, const char* body_key, const std::string& name,
                   const std::string& named_by) const {
    const YAML::Node list = root[list_key];
    if (!list.IsDefined() || list.IsNull()) {
      fail(list_key, "missing, but " + named_by + " names " + config::quoted(name));
    }
    if (!list.IsSequence()) fail(list_key, "expected a list");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string where = std::string(list_key) + "[" + std::to_string(i) + "]";
      const YAML::Node entry = list[i];
      if (!entry.IsMap()) fail(where, std::string("expected a mapping with name and ") + body_key);
      if (string_field(entry, "name", where).value_or("") == name) {
        // A missing body reads as null, so callers can ask its type without yaml-cpp throwing.
        const YAML::Node body = entry[body_key];
        return {where + "." + body_key, body.IsDefined() ? body : YAML::Node(YAML::NodeType::Null)};
      }
    }
    fail(list_key, "no entry named " + config::quoted(name) + " (named by " + named_by + ")");
  }

  void read_cluster(const Entry& cluster, Kubeconfig& result) const {
    if (!cluster.body.IsMap()) fail(cluster.where, "expected a mapping with server and certificate-authority");
    result.server = string_field(cluster.body, "server", cluster.where).value_or("");
    result.certificate_authority =
        pem_field(cluster.body, cluster.where, "certificate-authority-data", "certificate-authority");
    result.tls_server_name = string_field(cluster.body, "tls-server-name", cluster.where).value_or("");
    result.insecure_skip_tls_verify = bool_field(cluster.body, "insecure-skip-tls-verify", cluster.where);
  }

  void read_user(const Entry& user, Kubeconfig& result) const {
    if (user.body.IsNull()) return;
    if (!user.body.IsMap()) fail(user.where, "expected a mapping with the credentials");
    if (const YAML::Node exec = user.body["exec"]; exec.IsDefined() && !exec.IsNull()) {
      std::string command = exec.IsMap() ? string_field(exec, "command", user.where + ".exec").value_or("") : "";
      throw UnsupportedKubeconfig("kubeconfig " + path_ + ": " + user.where +
                                  ".exec: credential plugins are not supported" +
                                  (command.empty() ? "" : " (poolgate does not run " + config::quoted(command) + ")") +
                                  "; give the user a client certificate or a token");
    }
    if (const YAML::Node provider = user.body["auth-provider"]; provider.IsDefined() && !provider.IsNull()) {
      std::string name =
          provider.IsMap() ? string_field(provider, "name", user.where + ".auth-provider").value_or("") : "";
      throw UnsupportedKubeconfig("kubeconfig " + path_ + ": " + user.where +
                                  ".auth-provider: auth-provider plugins are not supported" +
                                  (name.empty() ? "" : " (" + config::quoted(name) + ")") +
                                  "; give the user a client certificate or a token");
    }
    result.client_certificate = pem_field(user.body, user.where, "client-certificate-data", "client-certificate");
    result.client_key = pem_field(user.body, user.where, "client-key-data", "client-key");
    if (result.client_certificate && !result.client_key) {
      fail(user.where, "client-certificate is given without client-key");
    }
    if (result.client_key && !result.client_certificate) {
      fail(user.where, "client-key is given without client-certificate");
    }
    result.token = string_field(user.body, "token", user.where).value_or("");
    if (result.token.empty()) {
      if (auto file = string_field(user.body, "tokenFile", user.where); file && !file->empty()) {
        const std::string field = user.where + ".tokenFile";
        result.token = read_referenced_file(field, *file).first;
        while (!result.token.empty() && std::isspace(static_cast<unsigned char>(result.token.back()))) {
          result.token.pop_back();
        }
        if (result.token.empty()) fail(field, config::printable(resolve(*file).string(), 300) + " is empty");
      }
    }
  }

  // `<name>-data` (base64 in the kubeconfig) wins over `<name>` (a file).
  std::optional<PemSource> pem_field(const YAML::Node& map, const std::string& where, const char* data_key,
                                     const char* file_key) const {
    if (auto data = string_field(map, data_key, where); data && !data->empty()) {
      const std::string field = field_name(where, data_key);
      auto decoded = decode_base64(*data);
      if (!decoded) fail(field, "not valid base64");
      if (decoded->empty()) fail(field, "empty");
      return PemSource{std::move(*decoded), field};
    }
    if (auto file = string_field(map, file_key, where); file && !file->empty()) {
      const std::string field = field_name(where, file_key);
      auto [content, resolved] = read_referenced_file(field, *file);
      if (content.empty()) fail(field, config::printable(resolved, 300) + " is empty");
      return PemSource{std::move(content), resolved + " (" + field + ")"};
    }
    return std::nullopt;
  }

  std::filesystem::path resolve(const std::string& file) const {
    std::filesystem::path path(file);
    return path.is_absolute() ? path : directory_ / path;
  }

  // The content of a file the kubeconfig names, and its resolved path.
  std::pair<std::string, std::string> read_referenced_file(const std::string& field, const std::string& file) const {
    const std::string path = resolve(file).string();
    SmallFile read = read_small_regular_file(path);
    if (!read.error.empty()) fail(field, "cannot read " + config::printable(path, 300) + ": " + read.error);
    return {std::move(read.content), path};
  }

  std::string path_;
  std::filesystem::path directory_;
};

}  // namespace

std::optional<std::string> decode_base64(std::string_view text) {
  static constexpr std::array<int, 256> kValues = [] {
    std::array<int, 256> values{};
    values.fill(-1);
    constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) values[static_cast<unsigned char>(kAlphabet[i])] = int(i);
    return values;
  }();
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t padding = 0;
  std::size_t symbols = 0;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int value = kValues[static_cast<unsigned char>(c)];
    if (value < 0 || padding > 0) return std::nullopt;  // a stray character, or data after the padding
    ++symbols;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  // One symbol alone cannot carry a byte; padding, when present, must complete the last group of four.
  if (symbols % 4 == 1 || padding > 2 || (padding > 0 && (symbols + padding) % 4 != 0)) return std::nullopt;
  return out;
}

Kubeconfig parse_kubeconfig(std::string_view text, const std::string& path) { return Reader(path).read(text); }

Kubeconfig load_kubeconfig(const std::string& path) {
  SmallFile read = read_small_regular_file(path);
  if (!read.error.empty()) throw config::ConfigError("kubeconfig " + path + ": cannot read: " + read.error);
  return parse_kubeconfig(read.content, path);
}

}  // namespace poolgate::discovery
