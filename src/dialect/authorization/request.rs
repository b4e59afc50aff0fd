//! The authorization request: its URL for the person's browser, and the reading of the
//! redirect that answers it.

use super::*;

/// Builds an [`AuthorizationRequest`]: the configuration first, then
/// [`build`](AuthorizationRequestBuilder::build) with fresh entropy for each request.
#[derive(Debug, Clone)]
#[must_use]
pub struct AuthorizationRequestBuilder {
    authorization_url: String,
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
    issuer: Option<(String, IssParameter)>,
}

impl AuthorizationRequestBuilder {
    /// Adds a scope (scopes are sent space-separated). A scope is one RFC 6749 §3.3
    /// `scope-token`: printable ASCII, no space, no `"` and no `\`.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds an extra parameter to the URL (`prompt`, `login_hint`, `nonce`, `resource`…;
    /// a name may repeat). The parameters the request sets itself (`response_type`,
    /// `client_id`, `redirect_uri`, `scope`, `state`, `code_challenge`,
    /// `code_challenge_method`) are refused.
    ///
    /// [`read_redirect`](AuthorizationRequest::read_redirect) reads a response in the
    /// redirect's query (the default `response_mode`). With `response_mode=form_post`, hand
    /// it the POSTed form body: it reads the same parameters. A `response_mode` that puts
    /// the response in the fragment cannot be read here.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The issuer the request is made to, as its metadata names it: the redirect's `iss`
    /// (RFC 9207) is checked against it, byte for byte. Without one, `iss` is not
    /// checked: give the issuer whenever it is known.
    ///
    /// The issuer is checked as [`Discovery::new`] checks one: `https` (plain `http` only
    /// on loopback), no query, no fragment, no user information.
    pub fn issuer(mut self, issuer: impl Into<String>, iss: IssParameter) -> Self {
        self.issuer = Some((issuer.into(), iss));
        self
    }

    /// Checks the configuration and makes the request, its `state` and its PKCE code
    /// verifier from `entropy`.
    ///
    /// **`entropy` must come from a cryptographically secure random source** (the
    /// operating system's: `getrandom`, `rand::rngs::OsRng`), fresh for every request:
    /// whoever can guess the `state` can forge a redirect (RFC 6749 §10.12), and whoever
    /// can guess the verifier can redeem a stolen code. The first 32 bytes make the code
    /// verifier (base64url, 43 characters, RFC 7636 §4.1), the last 32 the `state`. The bytes are wiped here, whatever the outcome, so the same ones can never
    /// make a second request: handing the same array again is refused as
    /// [`WeakEntropy`](AuthorizationRequestError::WeakEntropy), as are bytes no random
    /// source gives (a half that is one byte repeated, all zeros included, or two equal
    /// halves, which would put the verifier in the URL).
    pub fn build(
        self,
        entropy: &mut [u8; ENTROPY_BYTES],
    ) -> Result<AuthorizationRequest, AuthorizationRequestError> {
        let weak = is_weak(entropy);
        let (verifier, state) = entropy.split_at(ENTROPY_BYTES / 2);
        let verifier = base64url(verifier);
        let state = base64url(state);
        entropy.zeroize();
        if weak {
            return Err(AuthorizationRequestError::WeakEntropy);
        }
        for scope in &self.scopes {
            if !is_scope_token(scope) {
                return Err(AuthorizationRequestError::InvalidScope);
            }
        }
        let scope = (!self.scopes.is_empty()).then(|| self.scopes.join(" "));
        let (issuer, iss_required) = match self.issuer {
            Some((issuer, iss)) => (Some(issuer), iss == IssParameter::Required),
            None => (None, false),
        };
        let parts = Parts {
            authorization_endpoint: self.authorization_url,
            client_id: self.client_id,
            redirect_uri: self.redirect_uri,
            scope,
            params: self.params,
            issuer,
            iss_required,
        };
        AuthorizationRequest::assemble(parts, state, verifier)
    }
}

/// The configuration of a request, as given and as a snapshot keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Parts {
    pub(super) authorization_endpoint: String,
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    /// The scopes, space-separated.
    pub(super) scope: Option<String>,
    pub(super) params: Vec<(String, String)>,
    pub(super) issuer: Option<String>,
    pub(super) iss_required: bool,
}

/// One authorization request (RFC 6749 §4.1.1): the URL to open in a person's browser,
/// and the secrets that tell its redirect from anyone else's.
///
/// Built once per login attempt ([`builder`](AuthorizationRequest::builder),
/// [`from_metadata`](AuthorizationRequest::from_metadata)), with fresh entropy. Its
/// [`url`](AuthorizationRequest::url) asks for a code (`response_type=code`) with an
/// `S256` code challenge; [`read_redirect`](AuthorizationRequest::read_redirect) checks
/// the redirect and returns the [`AuthorizationCode`] to exchange.
///
/// The `state` and the code verifier are wiped when the request is dropped; `Debug`
/// shows neither (nor the URL, which carries the `state`). It serializes with both, for a
/// callback that another process (or a restart) handles: store it as you would a
/// token. Deserializing checks it as building does.
pub struct AuthorizationRequest {
    parts: Parts,
    endpoint: Endpoint,
    target: RedirectTarget,
    state: WipedString,
    verifier: WipedString,
    challenge: String,
    /// Over a buffer wiped when the last clone of the URI is dropped: it carries the state.
    url: Uri,
}

impl AuthorizationRequest {
    /// Starts a request to the authorization endpoint `authorization_url` for
    /// `client_id`, redirecting to `redirect_uri`. Everything is checked by
    /// [`build`](AuthorizationRequestBuilder::build):
    ///
    /// - the endpoint as every dialect's endpoints are ([`Endpoint::parse`]: `https`, or
    ///   `http` on loopback), with no fragment (RFC 6749 §3.1); a query it has is kept;
    /// - `client_id`: not empty, printable ASCII (RFC 6749 `VSCHAR`);
    /// - `redirect_uri`: as the [module](super) says (RFC 6749 §3.1.2, RFC 8252 §7.3). It is
    ///   sent exactly as given, and the code exchange sends it again.
    pub fn builder(
        authorization_url: impl Into<String>,
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> AuthorizationRequestBuilder {
        AuthorizationRequestBuilder {
            authorization_url: authorization_url.into(),
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scopes: Vec::new(),
            params: Vec::new(),
            issuer: None,
        }
    }

    /// Starts a request to the server `metadata` describes: its `authorization_endpoint`,
    /// and its issuer, with `iss` [required](IssParameter::Required) when the server says
    /// it sends it (RFC 9207 §3).
    ///
    /// Refused when the metadata has no authorization endpoint, or lists
    /// `code_challenge_methods_supported` without `S256`. A server that omits the list
    /// (RFC 8414 §2 then says it has no PKCE) is still asked with a challenge: a server
    /// without PKCE ignores it (RFC 7636 §5), and many support it without saying so.
    pub fn from_metadata(
        metadata: &ServerMetadata,
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Result<AuthorizationRequestBuilder, AuthorizationRequestError> {
        let endpoint = metadata
            .authorization_endpoint()
            .ok_or(AuthorizationRequestError::NoAuthorizationEndpoint)?;
        if !metadata.code_challenge_methods_supported().is_empty() && !metadata.supports_pkce_s256()
        {
            return Err(AuthorizationRequestError::PkceS256Unsupported);
        }
        let iss = if metadata.authorization_response_iss_parameter_supported() {
            IssParameter::Required
        } else {
            IssParameter::IfPresent
        };
        Ok(
            Self::builder(endpoint.uri().to_string(), client_id, redirect_uri)
                .issuer(metadata.issuer(), iss),
        )
    }

    /// Checks `parts` and the two secrets, and assembles the request: what building and
    /// deserializing share.
    pub(super) fn assemble(
        parts: Parts,
        state: WipedString,
        verifier: WipedString,
    ) -> Result<Self, AuthorizationRequestError> {
        use AuthorizationRequestError as E;
        if !is_secret_text(&state.0) || !is_secret_text(&verifier.0) {
            return Err(E::InvalidStoredSecret);
        }
        if constant_time_eq(state.0.as_bytes(), verifier.0.as_bytes()) {
            return Err(E::WeakEntropy);
        }
        let endpoint = authorization_endpoint(&parts.authorization_endpoint)?;
        if let Some(name) = endpoint
            .uri()
            .query()
            .and_then(|query| reserved_in(query, &REQUEST_PARAMETERS))
        {
            return Err(E::ReservedParameter {
                name: excerpt(&name, MAX_EXCERPT),
            });
        }
        if !is_vschar_text(&parts.client_id) {
            return Err(E::InvalidClientId);
        }
        let target = RedirectTarget::parse(&parts.redirect_uri)
            .map_err(|problem| E::InvalidRedirectUri { problem })?;
        if let Some(scope) = &parts.scope {
            if !scope.split(' ').all(is_scope_token) {
                return Err(E::InvalidScope);
            }
        }
        if let Some((name, _)) = parts
            .params
            .iter()
            .find(|(name, _)| REQUEST_PARAMETERS.contains(&name.as_str()))
        {
            return Err(E::ReservedParameter {
                name: excerpt(name, MAX_EXCERPT),
            });
        }
        if let Some(issuer) = &parts.issuer {
            check_issuer(issuer)?;
        } else if parts.iss_required {
            // Only a hand-edited snapshot says so: `iss` cannot be required of nobody.
            return Err(E::InvalidStoredSecret);
        }
        let challenge = s256_challenge(&verifier.0);
        let url = authorization_url(&parts, &endpoint, &state.0, &challenge)?;
        Ok(AuthorizationRequest {
            parts,
            endpoint,
            target,
            state,
            verifier,
            challenge,
            url,
        })
    }

    /// The URL to open in the person's browser: the authorization endpoint (its own query
    /// kept) with `response_type=code`, `client_id`, `redirect_uri`, `scope` (when
    /// scopes were given), `state`, `code_challenge`, `code_challenge_method=S256` and the
    /// extra parameters, form-urlencoded (RFC 6749 Appendix B).
    ///
    /// It carries the `state`: hand it to the browser, not to a log.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// The authorization endpoint.
    pub fn authorization_endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.parts.client_id
    }

    /// The redirect URI, exactly as given.
    pub fn redirect_uri(&self) -> &str {
        &self.parts.redirect_uri
    }

    /// The scopes asked for, space-separated, if any were given.
    pub fn scope(&self) -> Option<&str> {
        self.parts.scope.as_deref()
    }

    /// The issuer the redirect's `iss` is checked against, if the request knows it.
    pub fn issuer(&self) -> Option<&str> {
        self.parts.issuer.as_deref()
    }

    /// Whether the redirect must carry `iss` (RFC 9207).
    pub fn iss_parameter(&self) -> Option<IssParameter> {
        self.parts.issuer.as_ref().map(|_| {
            if self.parts.iss_required {
                IssParameter::Required
            } else {
                IssParameter::IfPresent
            }
        })
    }

    /// The `S256` code challenge (RFC 7636 §4.2): public, it travels in the URL.
    pub fn code_challenge(&self) -> &str {
        &self.challenge
    }

    /// The `state`: for a program that keeps many requests at once and finds the one a
    /// redirect answers by it. It travels in the URL, but whoever learns it before the
    /// redirect arrives can forge one: keep it out of logs.
    pub fn state(&self) -> &str {
        &self.state.0
    }

    /// The `state` and the code verifier, with the forms a server may echo them in: for
    /// keeping them out of the texts a program shows.
    pub fn secrets(&self) -> Secrets {
        Secrets::new([self.state.0.as_str(), self.verifier.0.as_str()])
    }

    /// A copy whose `state` and code verifier read `[redacted]`, for a snapshot safe to
    /// log. Its [`url`](AuthorizationRequest::url) is the endpoint alone; it reads no
    /// redirect (every one is a [`StateMismatch`](RedirectError::StateMismatch)) and
    /// cannot be deserialized.
    pub fn redacted(&self) -> Self {
        AuthorizationRequest {
            parts: self.parts.clone(),
            endpoint: self.endpoint.clone(),
            target: self.target.clone(),
            state: WipedString(REDACTED.to_owned()),
            verifier: WipedString(REDACTED.to_owned()),
            challenge: self.challenge.clone(),
            url: self.endpoint.uri().clone(),
        }
    }

    /// Whether this is a [`redacted`](AuthorizationRequest::redacted) copy.
    pub fn is_redacted(&self) -> bool {
        self.verifier.0 == REDACTED
    }

    /// Reads the redirect that answers this request: the [`AuthorizationCode`] to
    /// exchange, or why there is none.
    ///
    /// `redirect` is what came back, in any of these forms:
    ///
    /// - the whole redirect URL (`http://127.0.0.1:49152/callback?code=…&state=…`): its
    ///   scheme, host, port and path must be the redirect URI's;
    /// - the request target a loopback listener receives (`/callback?code=…`): its path
    ///   must be the redirect URI's;
    /// - the query alone, with or without its `?` (or the form body of a
    ///   `response_mode=form_post` response): the caller vouches for where it arrived.
    ///
    /// A fragment is ignored, unless the response is in it instead of the query
    /// ([`ResponseInFragment`](RedirectError::ResponseInFragment)). The checks, in order:
    /// the length, the location, no parameter twice, `state`, `iss`, `error`, `code`.
    /// [`RedirectError::answers_this_request`] tells the errors found before `state`
    /// matched (ignore the redirect, keep waiting) from those after (this request is
    /// spent: start a new one).
    ///
    /// The request is not consumed: a listener can read every redirect that reaches it
    /// until one answers. Whatever `redirect` holds, this returns a typed outcome; it
    /// never panics.
    pub fn read_redirect(&self, redirect: &str) -> Result<AuthorizationCode, RedirectError> {
        use RedirectError as E;
        if redirect.len() > MAX_REDIRECT_BYTES {
            return Err(E::TooLong {
                limit: MAX_REDIRECT_BYTES,
            });
        }
        let (before_fragment, fragment) = match redirect.split_once('#') {
            Some((before, fragment)) => (before, Some(fragment)),
            None => (redirect, None),
        };
        let query = match split_location(before_fragment) {
            (Location::Url(url), query) => {
                if !self.target.matches_url(url) {
                    return Err(E::WrongRedirectUri);
                }
                query
            }
            (Location::Path(path), query) => {
                if path != self.target.path {
                    return Err(E::WrongRedirectUri);
                }
                query
            }
            (Location::Unknown, query) => query,
        };
        let mut response = ResponseParameters::read(query);
        if !response.is_response()
            && fragment.is_some_and(|fragment| ResponseParameters::read(fragment).is_response())
        {
            return Err(E::ResponseInFragment);
        }

        // The state: until it matches, the redirect may be anyone's.
        let state = match &response.state {
            Parameter::Absent => return Err(E::MissingState),
            Parameter::Repeated => return Err(E::Duplicate { parameter: "state" }),
            Parameter::One(state) => state,
        };
        if self.is_redacted() || !constant_time_eq(state.as_bytes(), self.state.0.as_bytes()) {
            return Err(E::StateMismatch);
        }

        // This request's answer from here on.
        if let Some(parameter) = response.repeated() {
            return Err(E::Duplicate { parameter });
        }
        let secrets = || {
            let code = match &response.code {
                Parameter::One(code) => code.as_ref(),
                _ => "",
            };
            Secrets::new([self.state.0.as_str(), self.verifier.0.as_str(), code])
        };
        if let Some(expected) = &self.parts.issuer {
            match &response.iss {
                Parameter::One(iss) if iss.as_ref() != expected.as_str() => {
                    return Err(E::IssuerMismatch {
                        found: quote(iss, &secrets(), MAX_EXCERPT),
                    });
                }
                Parameter::Absent if self.parts.iss_required => return Err(E::MissingIssuer),
                _ => {}
            }
        }
        if let Parameter::One(error) = &response.error {
            let secrets = secrets();
            let text = |parameter: &Parameter<'_>| match parameter {
                Parameter::One(text) => Some(quote(text, &secrets, MAX_DESCRIPTION_EXCERPT)),
                _ => None,
            };
            return Err(E::Denied {
                error: AuthorizationErrorCode::read(error, &secrets),
                description: text(&response.error_description),
                uri: text(&response.error_uri),
            });
        }
        let code = match std::mem::take(&mut response.code) {
            Parameter::One(code) => WipedString(code.into_owned()),
            _ => return Err(E::MissingCode),
        };
        if code.0.len() > MAX_CODE_BYTES {
            return Err(E::CodeTooLong {
                limit: MAX_CODE_BYTES,
            });
        }
        if !is_vschar_text(&code.0) {
            return Err(E::InvalidCode);
        }
        Ok(AuthorizationCode {
            code,
            verifier: WipedString(self.verifier.0.clone()),
            redirect_uri: self.parts.redirect_uri.clone(),
            client_id: self.parts.client_id.clone(),
            issuer: self.parts.issuer.clone(),
        })
    }
}

impl Clone for AuthorizationRequest {
    fn clone(&self) -> Self {
        AuthorizationRequest {
            parts: self.parts.clone(),
            endpoint: self.endpoint.clone(),
            target: self.target.clone(),
            state: WipedString(self.state.0.clone()),
            verifier: WipedString(self.verifier.0.clone()),
            challenge: self.challenge.clone(),
            url: self.url.clone(),
        }
    }
}

/// Equal configuration and equal secrets, the secrets compared in constant time.
impl PartialEq for AuthorizationRequest {
    fn eq(&self, other: &Self) -> bool {
        let state = constant_time_eq(self.state.0.as_bytes(), other.state.0.as_bytes());
        let verifier = constant_time_eq(self.verifier.0.as_bytes(), other.verifier.0.as_bytes());
        state & verifier & (self.parts == other.parts)
    }
}

impl Eq for AuthorizationRequest {}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("authorization_endpoint", self.endpoint.uri())
            .field("client_id", &self.parts.client_id)
            .field("redirect_uri", &self.parts.redirect_uri)
            .field("scope", &self.parts.scope)
            .field("issuer", &self.parts.issuer)
            .field("iss_required", &self.parts.iss_required)
            .field("code_challenge", &self.challenge)
            .field("state", &REDACTED)
            .field("code_verifier", &REDACTED)
            .finish_non_exhaustive()
    }
}

/// A request as a snapshot keeps it, borrowed for writing.
#[derive(Serialize)]
pub(super) struct RequestFormRef<'a> {
    pub(super) authorization_endpoint: &'a str,
    pub(super) client_id: &'a str,
    pub(super) redirect_uri: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) scope: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(super) params: &'a [(String, String)],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) issuer: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(super) iss_required: bool,
    pub(super) state: &'a str,
    pub(super) code_verifier: &'a str,
}

/// A request as a snapshot keeps it, read back.
#[derive(Deserialize)]
pub(super) struct RequestForm {
    pub(super) authorization_endpoint: String,
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    #[serde(default)]
    pub(super) scope: Option<String>,
    #[serde(default)]
    pub(super) params: Vec<(String, String)>,
    #[serde(default)]
    pub(super) issuer: Option<String>,
    #[serde(default)]
    pub(super) iss_required: bool,
    pub(super) state: SecretText,
    pub(super) code_verifier: SecretText,
}

/// Written with its secrets: only a snapshot made with them should hold it.
impl Serialize for AuthorizationRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RequestFormRef {
            authorization_endpoint: &self.parts.authorization_endpoint,
            client_id: &self.parts.client_id,
            redirect_uri: &self.parts.redirect_uri,
            scope: self.parts.scope.as_deref(),
            params: &self.parts.params,
            issuer: self.parts.issuer.as_deref(),
            iss_required: self.parts.iss_required,
            state: &self.state.0,
            code_verifier: &self.verifier.0,
        }
        .serialize(serializer)
    }
}

/// Checked as [`AuthorizationRequestBuilder::build`] checks a request; a
/// [`redacted`](AuthorizationRequest::redacted) one is refused.
impl<'de> Deserialize<'de> for AuthorizationRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut form = RequestForm::deserialize(deserializer)?;
        let parts = Parts {
            authorization_endpoint: form.authorization_endpoint,
            client_id: form.client_id,
            redirect_uri: form.redirect_uri,
            scope: form.scope,
            params: form.params,
            issuer: form.issuer,
            iss_required: form.iss_required,
        };
        let state = form.state.take();
        let verifier = form.code_verifier.take();
        AuthorizationRequest::assemble(parts, state, verifier).map_err(serde::de::Error::custom)
    }
}
