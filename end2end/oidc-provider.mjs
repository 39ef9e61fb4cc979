// A real OpenID Connect provider for the end-to-end tests: the certified
// `oidc-provider` package with one confidential client (MagFlock) and one
// account whose email is verified. Its development sign-in and consent pages
// accept any password for a known login.
//
// Settings (environment): OIDC_PORT, OIDC_REDIRECT_URI, OIDC_CLIENT_ID,
// OIDC_CLIENT_SECRET. Prints "oidc-provider ready at <issuer>" once listening.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = {
  'sam': { email: 'sam.sso@example.com', email_verified: true, name: 'Sam Single-Sign-On' },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: [process.env.OIDC_REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  cookies: { keys: ['end-to-end-tests-only'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // Put the requested claims in the ID token (as most providers do).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account };
      },
    };
  },
});
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ready at ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
