// panva's oidc-provider on 127.0.0.1, configured for the crate's integration tests.
//
// Usage: node server.mjs <port>
// Prints "READY <port>" once listening; exits when its stdin closes, so it never outlives
// the test process that started it. State is in memory: every start is fresh.
// CLIENTS=none starts it knowing no client, as a server restarted before its clients
// were loaded: it rejects every client with its own 401 invalid_client.
// DEVICE_CODE_TTL is the lifetime of a device code (RFC 8628), in seconds (600 unless
// given), short in the tests that wait for a code to expire.
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
