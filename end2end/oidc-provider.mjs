// A real OpenID Connect provider for the end-to-end tests: the certified
// `oidc-provider` package with one confidential client (MagFlock), an RSA
// signing key made at start, and two accounts: `sam`, whose email is
// verified, and `una`, whose email the provider does not vouch for. Its
// development sign-in and consent pages accept any password for a known login.
//
// Settings (environment): OIDC_PORT, OIDC_REDIRECT_URI, OIDC_CLIENT_ID,
// OIDC_CLIENT_SECRET, and OIDC_TAMPER to make the provider misbehave after
// the token endpoint answered (the flow itself stays the real one):
//   wrong-audience  the ID token's claims re-signed with the provider's own
//                   key, for another client (`aud: another-client`)
//   bad-signature   the ID token's signature with bytes flipped
// Prints "oidc-provider ready at <issuer>" once listening.
import Provider from 'oidc-provider';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const tamper = process.env.OIDC_TAMPER ?? '';
if (!['', 'wrong-audience', 'bad-signature'].includes(tamper)) {
  console.error(`OIDC_TAMPER must be wrong-audience or bad-signature, not '${tamper}'`);
  process.exit(2);
}
const accounts = {
  'sam': { email: 'sam.sso@example.com', email_verified: true, name: 'Sam Single-Sign-On' },
  'una': { email: 'una@example.com', email_verified: false, name: 'Una Unverified' },
};

// The provider's signing key: its private half is kept for re-signing.
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await exportJWK(privateKey)), kid: 'e2e-signing-key', alg: 'RS256', use: 'sig' };

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
  jwks: { keys: [signingJwk] },
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

/** The ID token as OIDC_TAMPER spoils it. */
async function tampered(idToken) {
  if (tamper === 'bad-signature') {
    const [header, payload, signature] = idToken.split('.');
    const bytes = Buffer.from(signature, 'base64url');
    bytes[0] ^= 0xff;
    bytes[bytes.length - 1] ^= 0xff;
    return `${header}.${payload}.${bytes.toString('base64url')}`;
  }
  const claims = { ...decodeJwt(idToken), aud: 'another-client' };
  delete claims.azp;
  return new SignJWT(claims).setProtectedHeader(decodeProtectedHeader(idToken)).sign(privateKey);
}

if (tamper) {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'token' && ctx.status === 200 && ctx.body?.id_token) {
      ctx.body = { ...ctx.body, id_token: await tampered(ctx.body.id_token) };
    }
  });
}

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ready at ${issuer}${tamper ? ` (tampering: ${tamper})` : ''}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
