//! How `tokenctl token` prints a token, for shells, scripts, curl and kubectl.

use serde_json::json;

use crate::cli::Format;
use crate::session::Issued;
use crate::time_format::rfc3339;

/// The token in `format`, ending with a newline. The result holds the token: print it
/// only to stdout, and only when asked for.
pub(crate) fn render(issued: &Issued, format: Format) -> zeroize::Zeroizing<String> {
    let token = issued.secret.as_str();
    let text = match format {
        Format::Plain => format!("{token}\n"),
        Format::Header => format!("Authorization: Bearer {token}\n"),
        // curl's config syntax: a quoted string with `\` and `"` escaped.
        Format::CurlConfig => format!(
            "header = \"Authorization: Bearer {}\"\n",
            token.replace('\\', "\\\\").replace('"', "\\\"")
        ),
        Format::Json => {
            let value = json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_at": rfc3339(issued.valid_until),
                "expires_at_epoch": issued.valid_until.unix_timestamp(),
                "scope": issued.scope,
                "generation": issued.generation.get(),
            });
            format!("{value}\n")
        }
        Format::ExecCredential => {
            let value = json!({
                "apiVersion": "client.authentication.k8s.io/v1",
                "kind": "ExecCredential",
                "status": {
                    "token": token,
                    "expirationTimestamp": rfc3339(issued.valid_until),
                },
            });
            format!("{value}\n")
        }
    };
    zeroize::Zeroizing::new(text)
}
