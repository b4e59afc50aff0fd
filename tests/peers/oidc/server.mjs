// panva's oidc-provider on 127.0.0.1, configured for the crate's integration tests.
//
// Usage: node server.mjs <port>
// Prints "READY <port>" once listening; exits when its stdin closes, so it never outlives
// the test process that started it. State is in memory: every start is fresh.
// CLIENTS=none starts it knowing no client, as a server restarted before its clients
// were loaded: it rejects every client with its own 401 invalid_client.
// DEVICE_CODE_TTL is the lifetime of a device code (RFC 8628), in seconds (600 unless
// given), short in the tests that wait for a code to expire.
// EXTRA_CLIENTS names a JSON file holding an array of client metadata, appended to the
// clients below (unless CLIENTS=none): the clients authenticating with a JWT assertion
// (RFC 7523 §2.2), whose keys the test harness generates at each start, so that no key
// is committed. A `private_key_jwt` client carries its public keys in `jwks`, a
// `client_secret_jwt` client its secret (HS256: at least 32 bytes). The file is read
// once, before READY; the harness may delete it then.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs <port>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const ttl = Number(process.env.ACCESS_TOKEN_TTL || 300);
const deviceCodeTtl = Number(process.env.DEVICE_CODE_TTL || 600);

const grantTypes = ['client_credentials', 'refresh_token', 'authorization_code'];
const withoutClients = process.env.CLIENTS === 'none';
const extraClients = process.env.EXTRA_CLIENTS && !withoutClients
  ? JSON.parse(readFileSync(process.env.EXTRA_CLIENTS, 'utf8'))
  : [];
if (!Array.isArray(extraClients)) {
  console.error('EXTRA_CLIENTS must name a JSON array of client metadata');
  process.exit(2);
}
const configuration = {
  clients: withoutClients ? [] : [
    {
      client_id: 'lifecycle-basic',
      client_secret: 'basic-secret-0123456789',
      grant_types: grantTypes,
      redirect_uris: ['http://127.0.0.1/callback'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid offline_access api:read',
    },
    {
      client_id: 'lifecycle-post',
      client_secret: 'post-secret-0123456789',
      grant_types: grantTypes,
      redirect_uris: ['http://127.0.0.1/callback'],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'openid offline_access api:read',
    },
    // The authorization code grant's clients, for a person logging in through the
    // built-in interactions (devInteractions). Native clients: their loopback redirect
    // URI takes any port at the time of the request (RFC 8252 §7.3), as an app's
    // listener on an ephemeral port needs; a web client's would have to match exactly.
    {
      // A public client: no secret, PKCE required (oidc-provider requires it of every
      // client authenticating with `none`).
      client_id: 'lifecycle-public',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
      scope: 'openid offline_access api:read',
    },
    {
      // A confidential client: PKCE used because the request carries a challenge.
      client_id: 'lifecycle-code',
      client_secret: 'code-secret-0123456789',
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
      scope: 'openid offline_access api:read',
    },
    // The device authorization grant's client (RFC 8628): a public native client, as an
    // app on a device without a browser is. It asks at /device/auth, polls /token, and a
    // person approves at /device on another screen (the built-in pages).
    {
      client_id: 'lifecycle-device',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      scope: 'openid offline_access api:read',
    },
    ...extraClients,
  ],
  scopes: ['openid', 'offline_access', 'api:read'],
  features: {
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    // The built-in login and consent pages (any login, any password), driven by the
    // authorization code tests with plain form posts, as a browser would.
    devInteractions: { enabled: true },
    // RFC 8628: /device/auth for the device, /device for the person (the built-in user
    // code, confirmation and success pages), the device_code grant at /token.
    deviceFlow: { enabled: true },
  },
  // Client authentication by JWT assertion (RFC 7523 §2.2), for the EXTRA_CLIENTS. Both
  // lists are oidc-provider 9's defaults, pinned here because the tests rely on them.
  // What it checks of a client_assertion (lib/shared/jwt_client_auth.js):
  // - `alg` equal to the client's token_endpoint_auth_signing_alg;
  // - `sub` present: it names the client (lib/shared/client_auth.js), and must equal
  //   client_id when the body carries that too (else 400 invalid_request);
  // - `exp`, `jti` and `iss` present, `iss` the client id;
  // - `aud` (a string, or an array holding one of them) is the issuer identifier, the
  //   token endpoint's URL, or the URL of the endpoint the request is made to
  //   (OIDCContext#clientJwtAuthExpectedAudience: issuer, urlFor('token'),
  //   urlFor(route)): the token endpoint's URL is accepted at revocation and
  //   introspection too; anything else is invalid_client;
  // - the signature, with a key of the client's `jwks` (selected by kid and alg) or, for
  //   HS256, its secret;
  // - `exp` not passed and `nbf` not in the future, each with clockTolerance (15 s by
  //   default); `iat` is only checked when `exp` is absent;
  // - `jti` not seen before: a replay cache (ReplayDetection, in memory here) keeps each
  //   (iss, jti) until `exp` + clockTolerance, and refuses a second use.
  // Every refusal of the assertion itself is 401 invalid_client.
  clientAuthMethods: [
    'client_secret_basic',
    'client_secret_jwt',
    'client_secret_post',
    'private_key_jwt',
    'none',
  ],
  enabledJWA: {
    clientAuthSigningAlgValues: ['HS256', 'RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'],
  },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: ttl,
    ClientCredentials: ttl,
    RefreshToken: 86400,
    Grant: 86400,
    DeviceCode: deviceCodeTtl,
  },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
};

const provider = new Provider(issuer, configuration);

// Metadata is checked when a client is first used: check the extra clients now, so that
// a harness's mistake stops the server before READY instead of failing a request.
for (const { client_id: clientId } of extraClients) {
  try {
    await provider.Client.find(clientId);
  } catch (error) {
    console.error(`invalid client ${clientId}: ${error.message} ${error.error_description || ''}`);
    process.exit(2);
  }
}

// A loopback-only helper that mints a genuine refresh token through the provider's own
// models, standing in for a user who completed the authorization code flow.
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/test/mint-refresh-token') {
    const clientId = ctx.query.client_id;
    const client = await provider.Client.find(clientId);
    if (!client) {
      ctx.status = 404;
      return;
    }
    const scope = 'openid offline_access';
    const grant = new provider.Grant({ accountId: 'alice', clientId });
    grant.addOIDCScope(scope);
    const grantId = await grant.save();
    const refreshToken = new provider.RefreshToken({
      accountId: 'alice',
      client,
      grantId,
      gty: 'authorization_code',
      scope,
      authTime: Math.floor(Date.now() / 1000),
    });
    ctx.body = { refresh_token: await refreshToken.save() };
    return;
  }
  await next();
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`READY ${port}`);
});

const stop = () => {
  server.close();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
