// Development OpenID provider for records-gateway tests and demos. NEVER for production:
// any password is accepted, state lives in memory, signing keys are generated per start.
//
//   node provider.mjs CONFIG.json [--host 127.0.0.1] [--port 0] [--exit-with-stdin]
//   DEV_IDP_CONFIG=CONFIG.json DEV_IDP_HOST=127.0.0.1 DEV_IDP_PORT=0 node provider.mjs
//
// Port 0 picks a free port. When listening, prints exactly one line on stdout:
//   ready http://127.0.0.1:PORT
// (the issuer). SIGTERM or SIGINT closes the server and exits 0; so does the end of
// standard input with --exit-with-stdin (a harness dying never leaves a provider behind).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import process from 'node:process';

import Provider, { errors } from 'oidc-provider';

function fail(message) {
  process.stderr.write(`dev-idp: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const out = {
    config: process.env.DEV_IDP_CONFIG,
    host: process.env.DEV_IDP_HOST,
    port: process.env.DEV_IDP_PORT,
    exitWithStdin: false,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--host' || arg === '--port' || arg === '--config') {
      if (i + 1 >= argv.length) fail(`${arg} needs a value`);
      out[arg.slice(2)] = argv[i + 1];
      i += 1;
    } else if (arg === '--exit-with-stdin') {
      out.exitWithStdin = true;
    } else if (arg.startsWith('-')) {
      fail(`unknown option ${arg}`);
    } else {
      out.config = arg;
    }
  }
  if (!out.config) fail('usage: node provider.mjs CONFIG.json [--host H] [--port P] [--exit-with-stdin]');
  return out;
}

function loadConfig(path) {
  let config;
  try {
    config = JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    fail(`cannot read config ${path}: ${err.message}`);
  }
  if (!Array.isArray(config.resources) || config.resources.length === 0) fail('config: "resources" must list at least one API');
  if (!Array.isArray(config.clients) || config.clients.length === 0) fail('config: "clients" must list at least one client');
  return config;
}

// One signing key per algorithm; the first algorithm is the default for ID and access tokens.
function generateKeys(algs) {
  const spec = {
    RS256: ['rsa', { modulusLength: 2048 }],
    PS256: ['rsa', { modulusLength: 2048 }],
    ES256: ['ec', { namedCurve: 'P-256' }],
    EdDSA: ['ed25519', {}],
    Ed25519: ['ed25519', {}],
  };
  return algs.map((alg) => {
    if (!spec[alg]) fail(`config: signing alg ${alg} is not one of ${Object.keys(spec).join(', ')}`);
    // The key leaves generateKeyPairSync as PEM and is exported as a JWK from a key object
    // of its own. Exporting the generated key object itself deadlocked Node 20 about once
    // in 40 starts: a GC during the export finalized the key-generation job, which waits
    // for the key's mutex that the export holds (no "ready" line, ever).
    const [type, options] = spec[alg];
    const { privateKey: pem } = crypto.generateKeyPairSync(type, {
      ...options,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const jwk = crypto.createPrivateKey(pem).export({ format: 'jwk' });
    return { ...jwk, kid: `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}`, alg, use: 'sig' };
  });
}

// Client entries are oidc-provider client metadata plus three dev-idp keys, removed here:
//   access_token: { alg, ttl }   per-client access-token signing alg and lifetime (seconds)
//   resources: [indicator, ...]  the APIs this client may get tokens for (default: all)
//   default_resource: indicator  used when the client sends no resource= (default: the first)
function splitClients(clients) {
  const extras = new Map();
  const metadata = clients.map((entry) => {
    const { access_token: accessToken, resources, default_resource: defaultResource, ...rest } = entry;
    if (!rest.client_id) fail('config: every client needs a client_id');
    extras.set(rest.client_id, { accessToken: accessToken || {}, resources, defaultResource });
    return rest;
  });
  return { metadata, extras };
}

const args = parseArgs(process.argv.slice(2));
const config = loadConfig(args.config);
const host = args.host || config.host || '127.0.0.1';
const port = Number(args.port ?? config.port ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad port ${args.port ?? config.port}`);

const signingAlgs = config.signing_algs || ['RS256'];
const keys = generateKeys(signingAlgs);
const resources = new Map(config.resources.map((r) => [r.indicator, r]));
const firstResource = config.resources[0].indicator;
const { metadata: clients, extras } = splitClients(config.clients);
const users = new Map((config.users || []).map((u) => [u.sub, u]));
const allowAnyLogin = config.allow_any_login !== false;
const RESERVED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'scope', 'cnf']);

const providerConfig = {
  clients,
  jwks: { keys },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  // Client "scope" metadata may only name scopes listed here, so the APIs' scopes are added.
  scopes: [...new Set(['openid', 'offline_access', 'profile', 'email', ...config.resources.flatMap((r) => r.scopes || [])])],
  pkce: { required: () => true },
  clientBasedCORS: () => false,
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => {
        if (oneOf) return oneOf;
        return extras.get(client?.clientId)?.defaultResource || firstResource;
      },
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator, client) => {
        const resource = resources.get(indicator);
        const extra = extras.get(client.clientId) || { accessToken: {} };
        if (!resource || (extra.resources && !extra.resources.includes(indicator))) {
          throw new errors.InvalidTarget();
        }
        return {
          audience: resource.audience,
          scope: (resource.scopes || []).join(' '),
          accessTokenTTL: extra.accessToken.ttl ?? resource.access_token_ttl ?? 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: extra.accessToken.alg || resource.alg || signingAlgs[0] } },
        };
      },
    },
  },
  extraTokenClaims: async (ctx, token) => {
    const user = token.accountId && users.get(token.accountId);
    if (!user?.access_token_claims) return undefined;
    return Object.fromEntries(Object.entries(user.access_token_claims).filter(([k]) => !RESERVED.has(k)));
  },
  findAccount: async (ctx, sub) => {
    const user = users.get(sub);
    if (!user && !allowAnyLogin) return undefined;
    return { accountId: sub, claims: async () => ({ ...(user?.claims || {}), sub }) };
  },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, IdToken: 600, AuthorizationCode: 60, RefreshToken: 86400 },
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const server = http.createServer();
server.on('error', (err) => fail(`cannot listen on ${host}:${port}: ${err.message}`));
server.listen(port, host, () => {
  const bound = server.address().port;
  const issuer = `http://${host}:${bound}`;
  let provider;
  try {
    provider = new Provider(issuer, providerConfig);
  } catch (err) {
    fail(`bad provider configuration: ${err.message}`);
  }
  provider.on('server_error', (ctx, err) => process.stderr.write(`dev-idp: server_error ${err.stack}\n`));
  server.on('request', provider.callback());
  process.stdout.write(`ready ${issuer}\n`);
});

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`dev-idp: ${signal}, shutting down\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (args.exitWithStdin) {
  process.stdin.on('end', () => shutdown('end of stdin'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}
