// A real OpenID Connect provider (oidc-provider) for deskchat's OIDC sign-in tests.
//
// Started by tests/support/oidc_provider.py as `node provider.mjs` with:
//   PORT           listen on 127.0.0.1:PORT; the issuer is http://127.0.0.1:PORT
//   CLIENT_ID      the one confidential client (client_secret_basic or client_secret_post)
//   CLIENT_SECRET
//   REDIRECT_URIS  comma-separated
//   FORGE=1        sign ID tokens with key A but publish key B under A's kid at the JWKS endpoint,
//                  so a relying party that checks signatures must refuse every ID token
// Prints `READY <issuer>` on stdout once it listens; exits on SIGTERM/SIGINT.
//
// Logins go through the provider's own development login page (devInteractions): any login, any
// password. The login becomes `sub`; claims come from it (see `claimsFor`). Consent is granted
// automatically for the configured client, so the login form is the only page a user sees.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import process from 'node:process';

import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: environment variable ${name} is required`);
    process.exit(2);
  }
  return value;
}

const PORT = Number.parseInt(required('PORT'), 10);
const CLIENT_ID = required('CLIENT_ID');
const CLIENT_SECRET = required('CLIENT_SECRET');
const REDIRECT_URIS = required('REDIRECT_URIS').split(',').map((uri) => uri.trim()).filter(Boolean);
const FORGE = process.env.FORGE === '1';
const ISSUER = `http://127.0.0.1:${PORT}`;
const JWKS_PATH = '/jwks';

// Fresh RSA keys on every start; nothing is written to disk.
function rsaJwk(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

function publicPart({ kty, n, e, kid, alg, use }) {
  return { kty, n, e, kid, alg, use };
}

const signingKey = rsaJwk(`deskchat-test-${randomUUID()}`); // key A: signs every ID token
// Key B: what the JWKS endpoint claims is key A when FORGE=1.
const forgedJwks = FORGE ? { keys: [publicPart(rsaJwk(signingKey.kid))] } : undefined;

function titleCase(word) {
  return word ? word[0].toUpperCase() + word.slice(1).toLowerCase() : '';
}

// "alice.smith" -> "Alice Smith"; "bob_o-neil" -> "Bob O Neil"
function readableName(localPart) {
  const words = localPart.split(/[._\-+\s]+/u).filter(Boolean).map(titleCase);
  return words.length ? words.join(' ') : localPart;
}

// The claims of the account whose login (and so sub) is `id`.
function claimsFor(id) {
  const email = id.includes('@') ? id : `${id}@example.com`;
  const localPart = email.slice(0, email.lastIndexOf('@'));
  const claims = { sub: id, email, name: readableName(localPart) };
  if (localPart.startsWith('unverified')) {
    claims.email_verified = false;
  } else if (!localPart.startsWith('noclaim')) {
    claims.email_verified = true;
  } // noclaim...: no email_verified at all, as Entra ID does
  return claims;
}

const configuration = {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: REDIRECT_URIS,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // client_secret_post is accepted as well: oidc-provider treats the two secret methods as one.
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  scopes: ['openid', 'email', 'profile'],
  // Put the scope's claims into the ID token itself, not only into userinfo.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return claimsFor(id);
      },
    };
  },
  // Skip the consent page for the test client: grant openid email profile on first sign-in.
  async loadExistingGrant(ctx) {
    const { provider, client, session, result } = ctx.oidc;
    const grantId = result?.consent?.grantId || session.grantIdFor(client.clientId);
    if (grantId) {
      const grant = await provider.Grant.find(grantId);
      if (grant) {
        return grant;
      }
    }
    if (client.clientId !== CLIENT_ID || !session.accountId) {
      return undefined;
    }
    const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  // Short enough for tests, long enough for a slow machine.
  ttl: {
    AuthorizationCode: 120,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    AccessToken: 600,
    IdToken: 600,
  },
  renderError(ctx, out, error) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><title>oidc-provider error</title></head><body>`
      + `<h1>oidc-provider error</h1><pre>${JSON.stringify(out, null, 2).replace(/[<>&]/gu, '')}</pre>`
      + `<pre>${String(error?.stack ?? error).replace(/[<>&]/gu, '')}</pre></body></html>`;
  },
};

const provider = new Provider(ISSUER, configuration);

if (forgedJwks) {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === JWKS_PATH && ctx.status === 200) {
      ctx.body = forgedJwks;
    }
  });
}

provider.on('server_error', (ctx, error) => {
  console.error('provider.mjs server_error:', error);
});

const server = provider.listen(PORT, '127.0.0.1', () => {
  process.stdout.write(`READY ${ISSUER}\n`);
});
server.on('error', (error) => {
  console.error('provider.mjs:', error.message);
  process.exit(1);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
