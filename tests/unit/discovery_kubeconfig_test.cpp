// Covers the kubeconfig reader discovery uses: the current context's cluster and user, data and file fields
// (relative to the kubeconfig's directory), unsupported plugins, and malformed input (clear messages naming
// the field, never a crash).
#include "poolgate/config/error.hpp"
#include "poolgate/discovery/error.hpp"
#include "poolgate/discovery/kubeconfig.hpp"

#include "config_test_helpers.hpp"
#include "support/kube_objects.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_certs.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace poolgate::discovery {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using test::base64_encode;

constexpr const char* kPath = "/etc/kubernetes/kubelet.conf";

std::string parse_error(const std::string& yaml, const std::string& path = kPath) {
  return unit::config_error_message([&] { parse_kubeconfig(yaml, path); });
}

// Two of everything, so a reader that took the first entry instead of the current context's would be caught.
std::string two_context_kubeconfig(const std::string& current) {
  return "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- name: other\n"
         "  cluster:\n"
         "    server: https://other:6443\n"
         "    certificate-authority-data: " + base64_encode("OTHER CA") + "\n"
         "- name: main\n"
         "  cluster:\n"
         "    server: https://10.0.0.1:6443\n"
         "    certificate-authority-data: " + base64_encode("MAIN CA") + "\n"
         "    tls-server-name: kubernetes.default.svc\n"
         "contexts:\n"
         "- name: other\n"
         "  context: {cluster: other, user: other}\n"
         "- name: main\n"
         "  context: {cluster: main, user: kubelet}\n"
         "current-context: " + current + "\n"
         "users:\n"
         "- name: other\n"
         "  user:\n"
         "    token: other-token\n"
         "- name: kubelet\n"
         "  user:\n"
         "    client-certificate-data: " + base64_encode("CLIENT CERT") + "\n"
         "    client-key-data: " + base64_encode("CLIENT KEY") + "\n";
}

TEST(Kubeconfig, ReadsTheCurrentContextsClusterAndUserFromDataFields) {
  const Kubeconfig config = parse_kubeconfig(two_context_kubeconfig("main"), kPath);
  EXPECT_EQ(config.path, kPath);
  EXPECT_EQ(config.context, "main");
  EXPECT_EQ(config.server, "https://10.0.0.1:6443");
  ASSERT_TRUE(config.certificate_authority);
  EXPECT_EQ(config.certificate_authority->pem, "MAIN CA");
  EXPECT_EQ(config.certificate_authority->source, "clusters[1].cluster.certificate-authority-data");
  ASSERT_TRUE(config.client_certificate && config.client_key);
  EXPECT_EQ(config.client_certificate->pem, "CLIENT CERT");
  EXPECT_EQ(config.client_key->pem, "CLIENT KEY");
  EXPECT_EQ(config.client_key->source, "users[1].user.client-key-data");
  EXPECT_EQ(config.token, "");
  EXPECT_EQ(config.tls_server_name, "kubernetes.default.svc");
  EXPECT_FALSE(config.insecure_skip_tls_verify);

  const Kubeconfig other = parse_kubeconfig(two_context_kubeconfig("other"), kPath);
  EXPECT_EQ(other.certificate_authority->pem, "OTHER CA");
  EXPECT_EQ(other.token, "other-token");
  EXPECT_FALSE(other.client_certificate);
  EXPECT_EQ(other.tls_server_name, "");
}

TEST(Kubeconfig, ReadsFilesRelativeToTheKubeconfigsDirectory) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "etc" / "pki");
  test::write_text_file(dir / "etc" / "pki" / "ca.crt", "CA FROM FILE");
  test::write_text_file(dir / "etc" / "pki" / "client.pem", "CERT AND KEY");
  test::write_text_file(dir / "absolute.key", "ABSOLUTE KEY");
  test::KubeconfigSpec spec;
  spec.certificate_authority = test::PemValue::file("pki/ca.crt");
  spec.client_certificate = test::PemValue::file("pki/client.pem");
  spec.client_key = test::PemValue::file((dir / "absolute.key").string());
  const auto path = test::write_text_file(dir / "etc" / "kubelet.conf", test::kubeconfig_yaml(spec));

  const Kubeconfig config = load_kubeconfig(path.string());
  ASSERT_TRUE(config.certificate_authority && config.client_certificate && config.client_key);
  EXPECT_EQ(config.certificate_authority->pem, "CA FROM FILE");
  EXPECT_EQ(config.certificate_authority->source,
            (dir / "etc" / "pki" / "ca.crt").string() + " (clusters[0].cluster.certificate-authority)");
  EXPECT_EQ(config.client_certificate->pem, "CERT AND KEY");
  EXPECT_EQ(config.client_key->pem, "ABSOLUTE KEY");
}

TEST(Kubeconfig, DataFieldsWinOverFiles) {
  const std::string yaml = "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
                           "clusters: [{name: k, cluster: {certificate-authority: /nonexistent/ca.crt,\n"
                           "  certificate-authority-data: " + base64_encode("INLINE") + "}}]\n"
                           "users: [{name: u, user: {}}]\n";
  EXPECT_EQ(parse_kubeconfig(yaml, kPath).certificate_authority->pem, "INLINE");
}

TEST(Kubeconfig, TokenFileIsReadRelativeAndTrimmedButAnInlineTokenWins) {
  test::TempDir dir;
  test::write_text_file(dir / "token", "file-token\n");
  test::KubeconfigSpec spec;
  spec.token_file = "token";
  const auto path = test::write_text_file(dir / "kubeconfig", test::kubeconfig_yaml(spec));
  EXPECT_EQ(load_kubeconfig(path.string()).token, "file-token");

  spec.token = "inline-token";
  test::write_text_file(path, test::kubeconfig_yaml(spec));
  EXPECT_EQ(load_kubeconfig(path.string()).token, "inline-token");
}

TEST(Kubeconfig, InsecureSkipTlsVerifyAndAContextWithoutUser) {
  const std::string yaml = "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
                           "clusters: [{name: k, cluster: {server: 'https://x:6443', insecure-skip-tls-verify: yes}}]\n";
  const Kubeconfig config = parse_kubeconfig(yaml, kPath);
  EXPECT_TRUE(config.insecure_skip_tls_verify);
  EXPECT_FALSE(config.certificate_authority);
  EXPECT_FALSE(config.client_certificate);
  EXPECT_EQ(config.token, "");
}

TEST(Kubeconfig, ExecAndAuthProviderPluginsAreUnsupportedWithOneClearMessage) {
  test::KubeconfigSpec spec;
  spec.extra_user_yaml = "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n";
  try {
    parse_kubeconfig(test::kubeconfig_yaml(spec), kPath);
    FAIL() << "no error for an exec plugin";
  } catch (const UnsupportedKubeconfig& error) {
    EXPECT_THAT(error.what(), AllOf(StartsWith("kubeconfig /etc/kubernetes/kubelet.conf: users[0].user.exec: "),
                                    HasSubstr("not supported"), HasSubstr("\"aws\"")));
  }
  spec.extra_user_yaml = "    auth-provider:\n      name: gcp\n";
  try {
    parse_kubeconfig(test::kubeconfig_yaml(spec), kPath);
    FAIL() << "no error for an auth-provider plugin";
  } catch (const UnsupportedKubeconfig& error) {
    EXPECT_THAT(error.what(), AllOf(HasSubstr("users[0].user.auth-provider: "), HasSubstr("\"gcp\"")));
  }
  // An explicit null is no plugin.
  spec.extra_user_yaml = "    exec: null\n    token: t\n";
  EXPECT_EQ(parse_kubeconfig(test::kubeconfig_yaml(spec), kPath).token, "t");
}

struct Malformed {
  const char* name;
  std::string yaml;
  std::string message;  // expected after "kubeconfig <path>: "
};
void PrintTo(const Malformed& value, std::ostream* out) { *out << value.name; }

class MalformedKubeconfig : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedKubeconfig, IsRejectedWithAMessageNamingTheField) {
  const std::string message = parse_error(GetParam().yaml);
  EXPECT_THAT(message, StartsWith(std::string("kubeconfig ") + kPath + ": ")) << message;
  EXPECT_THAT(message, HasSubstr(GetParam().message));
}

const std::string kContext = "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n";
const std::string kCluster = "clusters: [{name: k, cluster: {server: 'https://x:6443'}}]\n";

INSTANTIATE_TEST_SUITE_P(
    , MalformedKubeconfig,
    ::testing::Values(
        Malformed{"Empty", "", "expected a YAML mapping"},
        Malformed{"NotYaml", "clusters: [unclosed", "not valid YAML"},
        Malformed{"AList", "- a\n- b\n", "expected a YAML mapping"},
        Malformed{"NoCurrentContext", "clusters: []\n", "current-context: not set"},
        Malformed{"CurrentContextIsAMapping", "current-context: {a: b}\n", "current-context: expected a string"},
        Malformed{"NoContexts", "current-context: c\n", "contexts: missing, but current-context names \"c\""},
        Malformed{"ContextsNotAList", "current-context: c\ncontexts: text\n", "contexts: expected a list"},
        Malformed{"ContextEntryNotAMapping", "current-context: c\ncontexts: [text]\n",
                  "contexts[0]: expected a mapping with name and context"},
        Malformed{"UnknownContext", "current-context: c\ncontexts: [{name: d, context: {cluster: k}}]\n",
                  "contexts: no entry named \"c\" (named by current-context)"},
        Malformed{"ContextWithoutBody", "current-context: c\ncontexts: [{name: c}]\n",
                  "contexts[0].context: expected a mapping with cluster and user"},
        Malformed{"ContextWithoutCluster", "current-context: c\ncontexts: [{name: c, context: {user: u}}]\n",
                  "contexts[0].context.cluster: not set"},
        Malformed{"UnknownCluster", kContext + "clusters: [{name: j, cluster: {}}]\n",
                  "clusters: no entry named \"k\" (named by contexts[0].context.cluster)"},
        Malformed{"ClusterNull", kContext + "clusters: [{name: k, cluster: null}]\n",
                  "clusters[0].cluster: expected a mapping"},
        Malformed{"CaNotBase64", kContext + "clusters: [{name: k, cluster: {certificate-authority-data: '!!!'}}]\n",
                  "clusters[0].cluster.certificate-authority-data: not valid base64"},
        Malformed{"CaDataAList", kContext + "clusters: [{name: k, cluster: {certificate-authority-data: [a]}}]\n",
                  "clusters[0].cluster.certificate-authority-data: expected a string"},
        Malformed{"CaFileMissing",
                  kContext + "clusters: [{name: k, cluster: {certificate-authority: missing-ca.crt}}]\n",
                  "clusters[0].cluster.certificate-authority: cannot read /etc/kubernetes/missing-ca.crt: "},
        Malformed{"InsecureNotABool", kContext + "clusters: [{name: k, cluster: {insecure-skip-tls-verify: maybe}}]\n",
                  "clusters[0].cluster.insecure-skip-tls-verify: expected true or false"},
        Malformed{"UnknownUser", kContext + kCluster + "users: [{name: v, user: {}}]\n",
                  "users: no entry named \"u\" (named by contexts[0].context.user)"},
        Malformed{"UserNotAMapping", kContext + kCluster + "users: [{name: u, user: [a]}]\n",
                  "users[0].user: expected a mapping"},
        Malformed{"CertificateWithoutKey",
                  kContext + kCluster + "users: [{name: u, user: {client-certificate-data: " +
                      base64_encode("C") + "}}]\n",
                  "users[0].user: client-certificate is given without client-key"},
        Malformed{"KeyWithoutCertificate",
                  kContext + kCluster + "users: [{name: u, user: {client-key-data: " + base64_encode("K") + "}}]\n",
                  "users[0].user: client-key is given without client-certificate"},
        Malformed{"KeyDataEmptyAfterDecoding", kContext + kCluster + "users: [{name: u, user: {client-key-data: '=='}}]\n",
                  "users[0].user.client-key-data: "},
        Malformed{"TokenAMapping", kContext + kCluster + "users: [{name: u, user: {token: {a: b}}}]\n",
                  "users[0].user.token: expected a string"},
        Malformed{"TokenFileMissing", kContext + kCluster + "users: [{name: u, user: {tokenFile: /nonexistent/token}}]\n",
                  "users[0].user.tokenFile: cannot read /nonexistent/token: No such file or directory"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Kubeconfig, AnEmptyTokenFileIsAnError) {
  test::TempDir dir;
  test::write_text_file(dir / "token", "\n");
  test::KubeconfigSpec spec;
  spec.token_file = "token";
  const auto path = test::write_text_file(dir / "kubeconfig", test::kubeconfig_yaml(spec));
  EXPECT_THAT(unit::config_error_message([&] { load_kubeconfig(path.string()); }),
              HasSubstr("users[0].user.tokenFile: " + (dir / "token").string() + " is empty"));
}

TEST(Kubeconfig, AMissingKubeconfigNamesTheFile) {
  EXPECT_EQ(unit::config_error_message([] { load_kubeconfig("/nonexistent/kubelet.conf"); }),
            "kubeconfig /nonexistent/kubelet.conf: cannot read: No such file or directory");
}

TEST(DecodeBase64, DecodesPaddedUnpaddedAndWrappedText) {
  EXPECT_EQ(decode_base64("aGVsbG8="), "hello");
  EXPECT_EQ(decode_base64("aGVsbG8"), "hello");
  EXPECT_EQ(decode_base64("aGVs\nbG8h"), "hello!");
  EXPECT_EQ(decode_base64(""), "");
}

TEST(DecodeBase64, RejectsWhatIsNotBase64) {
  EXPECT_EQ(decode_base64("aGVsbG8*"), std::nullopt);
  EXPECT_EQ(decode_base64("a"), std::nullopt);
  EXPECT_EQ(decode_base64("aGVsbG8=x"), std::nullopt);
  EXPECT_EQ(decode_base64("aGVsbG8==="), std::nullopt);
}

}  // namespace
}  // namespace poolgate::discovery
