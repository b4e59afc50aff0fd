// panva's oidc-provider on 127.0.0.1, configured for the crate's integration tests.
//
// Usage: node server.mjs <port>
// Prints "READY <port>" once listening; exits when its stdin closes, so it never outlives
// the test process that started it. State is in memory: every start is fresh.
// CLIENTS=none starts it knowing no client, as a server restarted before its clients
// were loaded: it rejects every client with its own 401 invalid_client.
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs <port>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const ttl = Number(process.env.ACCESS_TOKEN_TTL || 300);

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
  ],
  scopes: ['openid', 'offline_access', 'api:read'],
  features: {
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    // The built-in login and consent pages (any login, any password), driven by the
    // authorization code tests with plain form posts, as a browser would.
    devInteractions: { enabled: true },
  },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: ttl,
    ClientCredentials: ttl,
    RefreshToken: 86400,
    Grant: 86400,
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
