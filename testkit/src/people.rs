//! The person of a login at the real servers' own pages. For a device login (RFC 8628
//! §3.3), on another screen than the device's, they open the server's verification page,
//! sign in, type the user code the device shows, and approve or deny; for a browser login
//! (the authorization code grant), they open the authorization URL, sign in, and consent
//! or cancel ([`oidc_browser_login`], [`dot_browser_login`]). Everything goes over
//! loopback HTTP through a [`Browser`] posting the servers' own forms (CSRF and XSRF
//! tokens included); nothing is mocked and nothing is written to a database.
//!
//! What the two servers do, from their source (oidc-provider 9.13.3,
//! django-oauth-toolkit 3.4.1 with oauthlib 3.3.1), as a device polling the token
//! endpoint sees it:
//!
//! | | oidc-provider (`/device/auth`, `/token`) | django-oauth-toolkit (`/o/device-authorization/`, `/o/token/`) |
//! |---|---|---|
//! | `interval` | not sent: RFC 8628's default of 5 s applies | sent: `DEVICE_FLOW_INTERVAL` (5 s unless [`crate::DjangoOauthToolkit::device_interval_seconds`]) |
//! | `expires_in` | `ttl.DeviceCode`: 600 s unless [`crate::OidcProvider::device_code_ttl_seconds`] | oauthlib's 1800 s unless [`crate::DjangoOauthToolkit::device_code_ttl_seconds`] |
//! | nobody has approved yet | `400 authorization_pending` | `400 authorization_pending` |
//! | polled faster than the interval | never `slow_down`: `400 authorization_pending` as ever (the error class exists, nothing throws it) | never `slow_down`: `400 authorization_pending` as ever (a TODO in its token view) |
//! | the person denied | `400 access_denied` once (the code is spent by it), then `400 invalid_grant` | `400 access_denied`, at every poll |
//! | the person approved | `200` with `access_token`, `refresh_token` (with `offline_access`), `id_token` (with `openid`), once; then `400 invalid_grant` (and the grant's tokens are revoked) | `200` with `access_token`, `refresh_token`, at every poll: the code is never spent, each poll mints a new pair |
//! | the code expired | `400 expired_token` from `exp` on (whole seconds), for 15 s (`clockTolerance`, how long the in-memory store keeps it), then `400 invalid_grant` | `400 authorization_pending` still: its token endpoint reads a stored status, which turns `expired` only when a person enters the code at `/o/device/` after the expiry; from then on `400 expired_token` |
//! | unknown device code | `400 invalid_grant` | `404 {"error": "device_not_found"}` |

use crate::browser::{tag, value, Browser, Form, Page};
use crate::{Peer, DOT_DEVICE_CLIENT, DOT_USER, OIDC_DEVICE_CLIENT};

/// The person at oidc-provider: its built-in login page (devInteractions) takes any login
/// and any password.
pub const OIDC_PERSON: (&str, &str) = ("alice", "any password");

/// A device login never redirects to an app: the browser's redirect URI matches no URL.
const NO_APP: &str = "about:blank";

/// The server a device login is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceServer {
    /// panva's oidc-provider: `features.deviceFlow` with the built-in pages. The person
    /// types the code at `/device`, confirms it (or aborts), then signs in and consents
    /// on the devInteractions pages (or cancels there).
    OidcProvider,
    /// django-oauth-toolkit: the person signs in at Django's login form first (its
    /// device pages require a session), types the code at `/o/device/`, then accepts or
    /// denies at `/o/device-confirm/<client_id>/<user_code>`.
    DjangoOauthToolkit,
}

/// What the verification page said to a user code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeEntry {
    /// It took the code and asks the person to confirm the device: oidc-provider's
    /// "Confirm Device" page, django-oauth-toolkit's accept-or-deny page.
    Accepted,
    /// It refused the code, with the message it showed. oidc-provider shows the same
    /// "The code you entered is incorrect. Try again" for an unknown, an expired and a used
    /// code; django-oauth-toolkit shows "Incorrect user code", "Expired user code" or
    /// "User code has already been used".
    Refused(String),
}

impl DeviceServer {
    /// The device's client at this server: [`OIDC_DEVICE_CLIENT`] or
    /// [`DOT_DEVICE_CLIENT`], both public (no secret).
    pub fn client_id(self) -> &'static str {
        match self {
            DeviceServer::OidcProvider => OIDC_DEVICE_CLIENT,
            DeviceServer::DjangoOauthToolkit => DOT_DEVICE_CLIENT,
        }
    }

    /// Where the device asks for its codes (RFC 8628 §3.1).
    pub fn device_authorization_url(self, peer: &Peer) -> String {
        match self {
            DeviceServer::OidcProvider => peer.url("/device/auth"),
            DeviceServer::DjangoOauthToolkit => peer.url("/o/device-authorization/"),
        }
    }

    /// Where the device polls (RFC 8628 §3.4).
    pub fn token_url(self, peer: &Peer) -> String {
        match self {
            DeviceServer::OidcProvider => peer.url("/token"),
            DeviceServer::DjangoOauthToolkit => peer.url("/o/token/"),
        }
    }

    /// The verification page (the `verification_uri` the server hands the device).
    pub fn verification_url(self, peer: &Peer) -> String {
        match self {
            DeviceServer::OidcProvider => peer.url("/device"),
            DeviceServer::DjangoOauthToolkit => peer.url("/o/device/"),
        }
    }

    /// `user_code` as the server shows it, and so as the person types it, whether it came
    /// with or without its dash, in either case: oidc-provider's `XXXX-XXXX` (mask
    /// `****-****`; the server itself would take it any way, it drops non-word characters
    /// and upper-cases), django-oauth-toolkit's 8 characters without a separator (the
    /// server looks the code up exactly).
    pub fn user_code_as_shown(self, user_code: &str) -> String {
        let plain: String = user_code
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        match self {
            DeviceServer::OidcProvider if plain.len() == 8 => {
                format!("{}-{}", &plain[..4], &plain[4..])
            }
            DeviceServer::OidcProvider | DeviceServer::DjangoOauthToolkit => plain,
        }
    }
}

/// Approves the device login of `user_code` as a person does at the server's own pages.
///
/// - oidc-provider: opens `/device`, types the code into its form and sends it (with the
///   session's `xsrf`), presses Continue on the "Confirm Device" page, signs in as
///   [`OIDC_PERSON`] on the devInteractions login page and presses Continue on the consent
///   page. The server stores the account and the grant on the device code; its next poll
///   gets the tokens. Ends on the "Sign-in Success" page.
/// - django-oauth-toolkit: opens `/o/device/`, is sent to Django's login form, signs in as
///   [`DOT_USER`] (the CSRF token from the form), types the code (which binds the device
///   grant to the user), and presses Accept on the accept-or-deny page (the grant's status
///   becomes `authorized`). Ends on the status page, "Device Authorized".
///
/// Panics, naming the page, if the server refuses the code or any step.
#[track_caller]
pub fn approve_device_login(peer: &Peer, server: DeviceServer, user_code: &str) {
    let (mut browser, confirm) = accepted_code(peer, server, user_code);
    match server {
        DeviceServer::OidcProvider => {
            let consent = oidc_sign_in(&mut browser, &confirm);
            let form = consent.form_with("prompt");
            assert_eq!(
                form.field("prompt"),
                Some("consent"),
                "{}",
                describe(&consent)
            );
            let done = browser.submit(&consent, form).page();
            assert!(
                done.html.contains("Sign-in Success"),
                "oidc-provider did not approve the device: {}",
                describe(&done)
            );
        }
        DeviceServer::DjangoOauthToolkit => {
            let done = dot_decide(&mut browser, &confirm, "accept");
            assert!(
                done.html.contains("Device Authorized"),
                "django-oauth-toolkit did not approve the device: {}",
                describe(&done)
            );
        }
    }
}

/// Denies the device login of `user_code` as a person does who signs in and then says
/// no at the server's own pages; the device's next poll gets `access_denied`.
///
/// - oidc-provider: as [`approve_device_login`] up to the consent page, where the person
///   follows its `[ Cancel ]` link (`/interaction/<uid>/abort`): the interaction finishes
///   with `access_denied`, which the server stores on the device code. Ends on the code
///   page saying "The Sign-in request was interrupted".
/// - django-oauth-toolkit: as [`approve_device_login`] up to the accept-or-deny page,
///   where the person presses Deny (the grant's status becomes `denied`). Ends on the
///   status page, "Device Denied".
#[track_caller]
pub fn deny_device_login(peer: &Peer, server: DeviceServer, user_code: &str) {
    let (mut browser, confirm) = accepted_code(peer, server, user_code);
    match server {
        DeviceServer::OidcProvider => {
            let consent = oidc_sign_in(&mut browser, &confirm);
            let cancel = consent.link_ending("/abort");
            let done = browser.open(&cancel).page();
            assert!(
                done.html.contains("The Sign-in request was interrupted"),
                "oidc-provider did not record the denial: {}",
                describe(&done)
            );
        }
        DeviceServer::DjangoOauthToolkit => {
            let done = dot_decide(&mut browser, &confirm, "deny");
            assert!(
                done.html.contains("Device Denied"),
                "django-oauth-toolkit did not record the denial: {}",
                describe(&done)
            );
        }
    }
}

/// Aborts the device login of `user_code` at oidc-provider before signing in: the person
/// types the code at `/device` and presses `[ Abort ]` on the "Confirm Device" page (the
/// form posted with `abort=yes`). The server stores `access_denied` ("End-User aborted
/// interaction") on the device code; the device's next poll gets it. Ends on the code
/// page saying "The Sign-in request was interrupted". (django-oauth-toolkit has no such
/// step: its person is signed in before seeing the code; [`deny_device_login`] is its
/// only refusal.)
#[track_caller]
pub fn abort_device_login(peer: &Peer, user_code: &str) {
    let (mut browser, confirm) = accepted_code(peer, DeviceServer::OidcProvider, user_code);
    let form = press(&confirm, confirm.form_with("confirm"), "abort", "yes");
    let done = browser.submit(&confirm, form).page();
    assert!(
        done.html.contains("The Sign-in request was interrupted"),
        "oidc-provider did not record the abort: {}",
        describe(&done)
    );
}

/// Types `user_code` at the server's verification page, signed in first where the
/// server asks for it (django-oauth-toolkit, as [`DOT_USER`]), and goes no further: says
/// what the page answered. Approves and denies nothing.
///
/// What entering it changes on the server: at oidc-provider, nothing. At
/// django-oauth-toolkit, an accepted code's device grant is bound to the user (its status
/// stays pending), and a code past its expiry is marked `expired`: from then on, and only
/// then, its token endpoint answers `expired_token`.
#[track_caller]
pub fn enter_user_code(peer: &Peer, server: DeviceServer, user_code: &str) -> CodeEntry {
    let (_, page) = type_code(peer, server, user_code);
    if shows_confirmation(server, &page) {
        CodeEntry::Accepted
    } else {
        CodeEntry::Refused(refusal(server, &page))
    }
}

/// The browser on the page that asks to confirm the device, `user_code` taken.
#[track_caller]
fn accepted_code(peer: &Peer, server: DeviceServer, user_code: &str) -> (Browser, Page) {
    let (browser, page) = type_code(peer, server, user_code);
    assert!(
        shows_confirmation(server, &page),
        "the verification page refused the user code: {}",
        refusal(server, &page)
    );
    (browser, page)
}

/// Opens the verification page (signing in first at django-oauth-toolkit), types the code
/// as the server shows it, sends it: the browser and the page it landed on.
#[track_caller]
fn type_code(peer: &Peer, server: DeviceServer, user_code: &str) -> (Browser, Page) {
    let mut browser = Browser::new(NO_APP);
    let mut page = browser.open(&server.verification_url(peer)).page();
    if server == DeviceServer::DjangoOauthToolkit {
        assert!(
            page.url.contains("/accounts/login/?next="),
            "django-oauth-toolkit did not ask to sign in: {}",
            describe(&page)
        );
        let form = page
            .form_with("username")
            .fill("username", DOT_USER.0)
            .fill("password", DOT_USER.1);
        page = browser.submit(&page, form).page();
    }
    let form = page
        .form_with("user_code")
        .fill("user_code", &server.user_code_as_shown(user_code));
    let answer = browser.submit(&page, form).page();
    (browser, answer)
}

/// Whether `page` asks the person to confirm the device.
fn shows_confirmation(server: DeviceServer, page: &Page) -> bool {
    match server {
        DeviceServer::OidcProvider => page.html.contains("id=\"op.deviceConfirmForm\""),
        DeviceServer::DjangoOauthToolkit => page.url.contains("/o/device-confirm/"),
    }
}

/// oidc-provider, from the "Confirm Device" page: Continue, then its login page, signed in
/// as [`OIDC_PERSON`]. Returns the consent page.
#[track_caller]
fn oidc_sign_in(browser: &mut Browser, confirm: &Page) -> Page {
    let form = confirm.form_with("confirm");
    assert_eq!(form.field("confirm"), Some("yes"));
    let login = browser.submit(confirm, form).page();
    let form = login
        .form_with("login")
        .fill("login", OIDC_PERSON.0)
        .fill("password", OIDC_PERSON.1);
    assert_eq!(form.field("prompt"), Some("login"), "{}", describe(&login));
    browser.submit(&login, form).page()
}

/// django-oauth-toolkit, on the accept-or-deny page: presses the `action` button
/// `choice` (`accept` or `deny`). Returns the status page.
#[track_caller]
fn dot_decide(browser: &mut Browser, page: &Page, choice: &str) -> Page {
    let form = press(
        page,
        page.form_with("csrfmiddlewaretoken"),
        "action",
        choice,
    );
    browser.submit(page, form).page()
}

/// `form` sent with the `<button name=… value=…>` pressed, as a browser sends the button
/// that submitted a form. Both servers' device pages use such buttons, which
/// [`Page::form_with`] does not read (oidc-provider's `[ Abort ]` even sits outside its
/// form, tied to it by a `form` attribute).
#[track_caller]
fn press(page: &Page, mut form: Form, name: &str, pressed: &str) -> Form {
    let mut rest = page.html.as_str();
    let mut found = false;
    while let Some(start) = rest.find("<button") {
        let (attributes, after) = tag(&rest[start..]);
        found |= value(&attributes, "name") == Some(name)
            && value(&attributes, "value") == Some(pressed)
            && value(&attributes, "type").is_none_or(|kind| kind == "submit");
        rest = after;
    }
    assert!(found, "no button {name}={pressed} on {}", describe(page));
    form.fields.push((name.to_owned(), pressed.to_owned()));
    form
}

/// The message a page shows for a refused code: oidc-provider's `<p class="red">`,
/// django-oauth-toolkit's form error; the page's description when there is none.
fn refusal(server: DeviceServer, page: &Page) -> String {
    let (open, close) = match server {
        DeviceServer::OidcProvider => ("<p class=\"red\">", "</p>"),
        DeviceServer::DjangoOauthToolkit => ("<ul class=\"errorlist\"", "</ul>"),
    };
    page.html
        .find(open)
        .map(|start| &page.html[start..])
        .and_then(|from| from.find(close).map(|end| text(&from[..end])))
        .unwrap_or_else(|| describe(page))
}

/// The text of an HTML fragment: its tags dropped, its spaces collapsed.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A page for messages: its URL and title, never its forms (their tokens stay unprinted).
fn describe(page: &Page) -> String {
    let title = page
        .html
        .split("<title>")
        .skip(1)
        .filter_map(|from| from.find("</title>").map(|end| text(&from[..end])))
        .find(|title| !title.is_empty())
        .unwrap_or_default();
    format!("{} ({title:?})", page.url)
}

// ---- the authorization code grant: the person at each server's pages ------------------

/// What the person does when asked to consent to a browser login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Consents: the browser is redirected to the app with a code.
    Allow,
    /// Cancels: the browser is redirected to the app with an error.
    Deny,
}

/// The person of a browser login at oidc-provider: opens `url`, signs in on the built-in
/// login page ([`OIDC_PERSON`]), then consents, or cancels the interaction there. Returns
/// the redirect to the app (the browser stops there: the app's listener is the test's).
pub fn oidc_browser_login(browser: &mut Browser, url: &str, choice: Choice) -> String {
    let login = browser.open(url).page();
    let form = login
        .form_with("login")
        .fill("login", OIDC_PERSON.0)
        .fill("password", OIDC_PERSON.1);
    assert_eq!(form.field("prompt"), Some("login"));
    let consent = browser.submit(&login, form).page();
    match choice {
        Choice::Allow => {
            let form = consent.form_with("prompt");
            assert_eq!(form.field("prompt"), Some("consent"), "{}", consent.html);
            browser.submit(&consent, form).redirect()
        }
        Choice::Deny => {
            let cancel = consent.link_ending("/abort");
            browser.open(&cancel).redirect()
        }
    }
}

/// The person of a browser login at django-oauth-toolkit: opens `url`, is sent to
/// Django's login form, signs in as [`DOT_USER`] (the CSRF token from the form, the
/// session cookie kept), and is shown the toolkit's authorization form, where they click
/// Authorize (`allow`) or Cancel. Returns the redirect to the app, and the hidden fields
/// the toolkit carried the request in (`state`, `code_challenge`…).
pub fn dot_browser_login(
    browser: &mut Browser,
    url: &str,
    choice: Choice,
) -> (String, Vec<(String, String)>) {
    let login = browser.open(url).page();
    assert!(
        login.url.contains("/accounts/login/?next="),
        "{}",
        login.url
    );
    let form = login
        .form_with("username")
        .fill("username", DOT_USER.0)
        .fill("password", DOT_USER.1);
    assert!(form
        .field("csrfmiddlewaretoken")
        .is_some_and(|token| !token.is_empty()));
    let authorize = browser.submit(&login, form).page();
    let form = authorize.form_with("allow");
    let carried = ["state", "code_challenge", "code_challenge_method"]
        .iter()
        .filter_map(|name| Some((name.to_string(), form.field(name)?.to_owned())))
        .collect();
    let form = match choice {
        Choice::Allow => form.click("allow"),
        Choice::Deny => form,
    };
    (browser.submit(&authorize, form).redirect(), carried)
}
