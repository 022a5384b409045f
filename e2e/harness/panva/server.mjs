// panva's oidc-provider (an OpenID Certified provider) for the ags end-to-end tests,
// started by e2e/harness/panva.go: `node server.mjs config.json`. It listens on
// 127.0.0.1:{port} and behaves as the profile in the configuration says, each
// imitating a real provider (Entra ID, Keycloak, ZITADEL, Apple, Cognito) in what
// matters to a relying party. The sign-in is a form (username, password) that the
// Go client and Chromium both submit; consent is granted without a page.
//
// Configuration (JSON, written by panva.go): port, profile, username, password,
// claims (the user's, sub included), clients (oidc-provider client metadata),
// tenantId, accessTokenTTL (seconds), minimalIdToken, accessTokenTyp, adminToken.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as querystring from 'node:querystring';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const origin = `http://127.0.0.1:${cfg.port}`;
const profile = cfg.profile || 'textbook';
const entra = profile === 'entra-multitenant' || profile === 'entra-overage';

// The user. Its claims may change while the provider runs (PUT /__ags/claims).
let user = { ...cfg.claims };
const accountId = user.sub;

// Standard claims by scope (OIDC Core 5.4). Every other claim the user has at start
// is released with openid, unless the profile keeps it for the access token.
const standardScopes = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
};
const standardClaims = new Set(Object.values(standardScopes).flat());
// Claims that only the access token carries (Keycloak's roles mappers' defaults).
const accessTokenOnly = new Set(profile === 'keycloak' ? ['realm_access', 'resource_access'] : []);

// The issuer a token names. Entra's is the tenant's: http://host/{tid}/v2.0.
const tenantIssuer = (tid) => `${origin}/${tid}/v2.0`;
const issuerTemplate = `${origin}/{tenantid}/v2.0`;
const mount = profile === 'keycloak' ? '/realms/ags' : '';
const baseIssuer = entra ? tenantIssuer(cfg.tenantId) : origin + mount;

// Endpoint paths as the real providers have them (under the mount, or under the
// tenant segment for Entra).
const routes = {
  'entra-multitenant': entraRoutes(),
  'entra-overage': entraRoutes(),
  keycloak: {
    authorization: '/protocol/openid-connect/auth',
    token: '/protocol/openid-connect/token',
    userinfo: '/protocol/openid-connect/userinfo',
    jwks: '/protocol/openid-connect/certs',
    end_session: '/protocol/openid-connect/logout',
    introspection: '/protocol/openid-connect/token/introspect',
    revocation: '/protocol/openid-connect/revoke',
  },
  zitadel: {
    authorization: '/oauth/v2/authorize', token: '/oauth/v2/token', userinfo: '/oidc/v1/userinfo',
    jwks: '/oauth/v2/keys', end_session: '/oidc/v1/end_session',
    introspection: '/oauth/v2/introspect', revocation: '/oauth/v2/revoke',
  },
  apple: { authorization: '/auth/authorize', token: '/auth/token', jwks: '/auth/keys', revocation: '/auth/revoke' },
  cognito: {
    authorization: '/oauth2/authorize', token: '/oauth2/token', userinfo: '/oauth2/userInfo',
    jwks: '/.well-known/jwks.json', revocation: '/oauth2/revoke',
  },
}[profile] || {};

function entraRoutes() {
  return {
    authorization: '/oauth2/v2.0/authorize',
    token: '/oauth2/v2.0/token',
    jwks: '/discovery/v2.0/keys',
    end_session: '/oauth2/v2.0/logout',
    userinfo: '/oidc/userinfo',
  };
}

// Signing keys, fresh for each run: RS256 (the default) and ES256.
function signingKey(type, options, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: `ags-e2e-${alg.toLowerCase()}-${crypto.randomBytes(4).toString('hex')}` };
}
const keys = [signingKey('rsa', { modulusLength: 2048 }, 'RS256'), signingKey('ec', { namedCurve: 'P-256' }, 'ES256')];
const publicKeys = jose.createLocalJWKSet({
  keys: keys.map(({ d, p, q, dp, dq, qi, ...pub }) => pub),
});

// Claims the user's released claims may have: the standard ones, the profile's and
// the test's, known at start (oidc-provider fixes claims_supported then).
const releasedExtra = Object.keys(user).filter((c) => !standardClaims.has(c) && !accessTokenOnly.has(c));
// entra-overage names the groups' source instead (_claim_names.groups); Cognito's ID
// token says what it is.
if (profile === 'entra-overage' && !releasedExtra.includes('groups')) releasedExtra.push('groups');
if (profile === 'cognito') releasedExtra.push('token_use');

const scopes = profile === 'apple'
  ? { openid: ['sub', ...releasedExtra.filter((c) => c !== 'is_private_email')], email: ['email', 'email_verified', 'is_private_email'], name: [] }
  : { ...standardScopes, openid: ['sub', ...releasedExtra] };

// The resource (RFC 8707) of a JWT access token, when the profile issues one for
// the sign-in: Keycloak's "account", Entra's app itself.
function defaultResourceOf(client) {
  if (profile === 'keycloak') return `${origin}${mount}/account`;
  if (entra) return `api://${client.clientId}`;
  return undefined;
}

function audienceOf(resource, client) {
  if (profile === 'keycloak' && resource === `${origin}${mount}/account`) return 'account';
  if (entra && resource === `api://${client.clientId}`) return client.clientId; // Entra v2: aud is the app's client ID
  return resource;
}

const configuration = {
  clients: cfg.clients,
  jwks: { keys },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: scopes,
  scopes: Object.keys(scopes).concat(['offline_access']),
  routes,
  findAccount,
  conformIdTokenClaims: !!cfg.minimalIdToken,
  clientBasedCORS: () => true,
  ttl: {
    AccessToken: cfg.accessTokenTTL || 3600,
    AuthorizationCode: 60,
    ClientCredentials: cfg.accessTokenTTL || 3600,
    IdToken: 3600,
    Interaction: 3600,
    Grant: 86400,
    Session: 86400,
    RefreshToken: 86400,
  },
  // Real providers (Keycloak, Entra with offline_access) give a refresh token
  // without prompt=consent; the textbook one follows OIDC Core 11.
  issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token')
    && (profile !== 'textbook' || code.scopes.has('offline_access')),
  extraTokenClaims,
  // oidc-provider refuses to call loopback addresses (its SSRF guard, a dispatcher
  // of its own); the tests' relying parties (back-channel logout, client keys) are
  // on 127.0.0.1.
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  formats: { customizers: { jwt: customizeAccessToken } },
  features: {
    devInteractions: { enabled: false },
    claimsParameter: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    backchannelLogout: { enabled: true },
    jwtResponseModes: { enabled: true },
    requestObjects: { enabled: true },
    userinfo: { enabled: profile !== 'apple' },
    rpInitiatedLogout: {
      // Apple has no end-session endpoint; Cognito's is /logout, not in discovery.
      enabled: profile !== 'apple' && profile !== 'cognito',
      logoutSource,
      postLogoutSuccessSource,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => {
        if (oneOf) return Array.isArray(oneOf) ? oneOf[0] : oneOf;
        return defaultResourceOf(client);
      },
      // The sign-in's access token is for the granted resource even with openid.
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resource, client) => ({
        // OpenID scopes too: Keycloak's and Entra's tokens carry them (scope, scp).
        scope: [...Object.keys(scopes), 'offline_access', 'api:read', 'api:write'].join(' '),
        audience: audienceOf(resource, client),
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out).map(([k, v]) => `<p id="${esc(k)}">${esc(k)}: ${esc(v)}</p>`).join(''));
  },
};

async function findAccount(ctx, sub) {
  if (sub !== accountId) return undefined;
  return {
    accountId,
    async claims(use) {
      const claims = { ...user };
      for (const c of accessTokenOnly) delete claims[c];
      if (profile === 'entra-overage') {
        // Entra's groups overage: the groups are too many for the token; it names
        // where to fetch them (OIDC Core 5.6.2 distributed claims).
        delete claims.groups;
        claims._claim_names = { groups: 'src1' };
        claims._claim_sources = { src1: { endpoint: `${origin}/groups/${encodeURIComponent(accountId)}` } };
      }
      if (profile === 'cognito' && use === 'id_token') claims.token_use = 'id';
      return claims;
    },
  };
}

// Claims of a JWT access token beyond iss, sub, aud, exp, iat, jti, scope, client_id.
async function extraTokenClaims(ctx, token) {
  if (token.accountId !== accountId) return undefined;
  if (profile === 'keycloak') {
    return {
      typ: 'Bearer',
      azp: token.clientId,
      realm_access: user.realm_access,
      resource_access: user.resource_access,
      preferred_username: user.preferred_username,
      email: user.email,
      email_verified: user.email_verified,
    };
  }
  if (entra) {
    return {
      ver: '2.0', tid: user.tid, oid: user.oid, azp: token.clientId,
      name: user.name, preferred_username: user.preferred_username,
    };
  }
  return undefined;
}

async function customizeAccessToken(ctx, token, jwt) {
  if (cfg.accessTokenTyp) jwt.header = { typ: cfg.accessTokenTyp };
  if (entra && token.accountId) {
    // Entra names the scopes scp and the client azp.
    jwt.payload.scp = jwt.payload.scope;
    delete jwt.payload.scope;
    delete jwt.payload.client_id;
  }
  if (profile === 'keycloak') delete jwt.payload.client_id;
}

// Pages, plain (no fonts or scripts from elsewhere: the machine may be offline).
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

// The logout confirmation submits itself (yes, sign me out): a browser goes through
// at once, a Go client posts the form (harness Client.SubmitForm).
async function logoutSource(ctx, form) {
  ctx.body = page('Sign out', form.replace('</form>', '<input type="hidden" name="logout" value="yes"><button type="submit">Sign out</button></form>')
    + '<script>document.forms[0].submit()</script>');
}
async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
}

const provider = new Provider(baseIssuer, configuration);

// Any loopback or example.org redirect, as the other providers of the harness
// allow: the tests learn Traefik's port after the provider started.
const loopback = /^https?:\/\/(127\.0\.0\.1|localhost|([a-z0-9-]+\.)*example\.org)(:\d+)?\//;
for (const method of ['redirectUriAllowed', 'postLogoutRedirectUriAllowed']) {
  const registered = provider.Client.prototype[method];
  provider.Client.prototype[method] = function allowed(value) {
    return registered.call(this, value) || loopback.test(value);
  };
}

if (entra) {
  // Tokens name the user's tenant; discovery at organizations or common names the
  // template (set below). One user, so the tenant is the user's.
  Object.defineProperty(provider, 'issuer', { get: () => tenantIssuer(user.tid || cfg.tenantId), configurable: true });
}

// Apple gives the user's name and email once, in the first form_post answer, as a
// form field "user" beside code and state.
const appleUserSent = new Set();
provider.on('authorization.success', (ctx, out) => {
  if (profile !== 'apple' || !out.code) return;
  const scope = String(ctx.oidc.params.scope || '').split(' ');
  if ((scope.includes('name') || scope.includes('email')) && !appleUserSent.has(accountId)) {
    appleUserSent.add(accountId);
    out.user = JSON.stringify({ name: { firstName: user.given_name, lastName: user.family_name }, email: user.email });
  }
});

for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error', 'end_session.error',
  'introspection.error', 'revocation.error', 'backchannel.error', 'jwks.error', 'discovery.error']) {
  provider.on(event, (ctx, err, ...rest) => {
    const e = err instanceof Error ? err : rest.find((r) => r instanceof Error) || err;
    console.log(`event ${event}: ${e?.message || e}${e?.error_description ? ` (${e.error_description})` : ''}`);
  });
}
provider.on('backchannel.success', (ctx, client, accountId, sid) => {
  console.log(`event backchannel.success: ${client.clientId} sub=${accountId} sid=${sid}`);
});

// The harness's routes, before oidc-provider's.
provider.use(async (ctx, next) => {
  const path = ctx.path;
  const mounted = ctx.req.agsMount !== undefined;
  if (!mounted && path.startsWith('/interaction/')) return interaction(ctx);
  if (!mounted && path === '/__ags/claims') return setClaims(ctx);
  if (!mounted && profile === 'entra-overage' && path.startsWith('/groups/')) return groups(ctx);
  if (!mounted && profile === 'cognito' && path === '/logout') return cognitoLogout(ctx);
  if (profile === 'apple' && path === routes.authorization && !appleResponseModeOK(ctx)) return undefined;
  if (profile === 'keycloak' && mounted && path === routes.userinfo) return jwtUserinfo(ctx);
  await next();
  if (entra) entraAfter(ctx);
});

async function readForm(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  return querystring.parse(Buffer.concat(chunks).toString());
}

const loginForm = (uid, error, context) => page(`Sign in to oidc-provider (${profile})`, `
${error ? `<p id="error">${esc(error)}</p>` : ''}${context ? `<p id="context">${esc(context)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>Username <input id="username" name="username" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Login</button>
</form>
<p><a id="cancel" href="/interaction/${esc(uid)}/abort">Cancel</a></p>`);

async function interaction(ctx) {
  const [, , uid, action] = ctx.path.split('/');
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    ctx.status = 400;
    ctx.body = page('Error', `<p id="error">${esc(err.message)}</p>`);
    return;
  }
  if (details.uid !== uid) {
    ctx.status = 400;
    ctx.body = page('Error', '<p id="error">interaction mismatch</p>');
    return;
  }
  const finish = async (result, merge = true) => {
    const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    ctx.status = 303;
    ctx.redirect(to);
  };
  if (action === 'abort') {
    return finish({ error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  }
  if (action === 'login' && ctx.method === 'POST') {
    const form = await readForm(ctx);
    if (form.username !== cfg.username || form.password !== cfg.password) {
      ctx.status = 401;
      ctx.body = loginForm(uid, 'Wrong username or password.');
      return undefined;
    }
    return finish({ login: { accountId } }, false);
  }
  if (details.prompt.name === 'login') {
    const { login_hint: hint, ui_locales: locales } = details.params;
    ctx.body = loginForm(uid, '', hint || locales ? `ui_locales: ${locales || ''}; login_hint: ${hint || ''}` : '');
    return undefined;
  }
  // Consent: everything asked for, without a page.
  const { prompt: { details: missing }, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, wanted] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, wanted.join(' '));
  }
  return finish({ consent: { grantId: await grant.save() } });
}

// PUT /__ags/claims with the admin token: the user's claims from now on.
async function setClaims(ctx) {
  if (ctx.method !== 'PUT' || ctx.get('authorization') !== `Bearer ${cfg.adminToken}`) {
    ctx.status = 403;
    return;
  }
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  user = { ...JSON.parse(Buffer.concat(chunks).toString()), sub: accountId };
  ctx.status = 204;
}

// The subject and scope of a Bearer access token of this provider: a JWT it signed
// (Entra's and Keycloak's kind), or an opaque one it stored.
async function bearer(ctx) {
  const m = /^Bearer ([^ ]+)$/i.exec(ctx.get('authorization'));
  if (!m) return undefined;
  if (m[1].split('.').length === 3) {
    try {
      const { payload } = await jose.jwtVerify(m[1], publicKeys, { issuer: provider.issuer });
      return { sub: payload.sub, scope: payload.scope || payload.scp || '' };
    } catch {
      return undefined;
    }
  }
  const token = await provider.AccessToken.find(m[1]);
  return token && !token.isExpired ? { sub: token.accountId, scope: token.scope || '' } : undefined;
}

function refuseBearer(ctx) {
  ctx.status = 401;
  ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
  ctx.body = { error: 'invalid_token' };
}

// Keycloak's userinfo takes its own JWT access tokens (oidc-provider's refuses a
// token for a resource): the user's claims of the token's scopes, roles not among
// them.
async function jwtUserinfo(ctx) {
  const who = await bearer(ctx);
  if (!who || who.sub !== accountId) return refuseBearer(ctx);
  const out = {};
  for (const scope of who.scope.split(' ')) {
    for (const claim of scopes[scope] || []) {
      if (user[claim] !== undefined) out[claim] = user[claim];
    }
  }
  ctx.body = out;
}

// The distributed claims source of entra-overage: the user's groups.
async function groups(ctx) {
  const who = await bearer(ctx);
  const sub = decodeURIComponent(ctx.path.slice('/groups/'.length));
  if (!who || who.sub !== sub || sub !== accountId) return refuseBearer(ctx);
  ctx.body = { groups: user.groups || [] };
}

// Apple: "If you requested any scopes, the value [of response_mode] must be
// form_post." It says so on its own page, without a redirect.
function appleResponseModeOK(ctx) {
  const params = ctx.method === 'GET' ? ctx.query : {};
  const scope = String(params.scope || '').split(' ');
  if ((scope.includes('email') || scope.includes('name')) && params.response_mode !== 'form_post') {
    ctx.status = 400;
    ctx.body = page('Error', '<p id="error">invalid_request: response_mode must be form_post when name or email scope is requested.</p>');
    return false;
  }
  return true;
}

// Cognito's /logout?client_id=...&logout_uri=...: ends the session, redirects to
// logout_uri, which must be one of the client's sign-out URLs (or a loopback one).
async function cognitoLogout(ctx) {
  const { client_id: clientId, logout_uri: logoutUri } = ctx.query;
  // The client's sign-out URLs: its post_logout_redirect_uris, which oidc-provider
  // drops with its end-session feature off.
  const client = cfg.clients.find((c) => c.client_id === clientId);
  const allowed = client && typeof logoutUri === 'string'
    && ((client.post_logout_redirect_uris || []).includes(logoutUri) || loopback.test(logoutUri));
  if (!allowed) {
    ctx.status = 400;
    ctx.body = page('Error', '<p id="error">Required String parameter \'logout_uri\' is not present or not registered</p>');
    return;
  }
  const session = await provider.Session.get(ctx);
  if (session.accountId) await session.destroy();
  ctx.cookies.set(provider.cookieName('session'), null);
  ctx.status = 302;
  ctx.redirect(String(logoutUri));
}

// Entra: discovery at organizations or common names the issuer template and no
// RFC 9207 support; the authorization response has no iss.
function entraAfter(ctx) {
  if (ctx.oidc?.route === 'discovery' && ctx.body && ctx.req.agsMount) {
    const segment = ctx.req.agsMount.slice(1);
    ctx.body.issuer = segment === 'organizations' || segment === 'common' ? issuerTemplate : tenantIssuer(segment);
    delete ctx.body.authorization_response_iss_parameter_supported;
  }
  const location = ctx.response.get('location');
  if (location && (ctx.oidc?.route === 'authorization' || ctx.oidc?.route === 'resume')) {
    const u = new URL(location, origin);
    if (u.searchParams.has('iss')) {
      u.searchParams.delete('iss');
      ctx.redirect(u.href);
      ctx.status = 303;
    }
  }
}

// Mounts: Keycloak's realm, Entra's tenant segment (organizations, common, or a
// tenant ID; /{segment}/v2.0/.well-known/openid-configuration is its discovery).
// req.originalUrl tells oidc-provider the mount, for the addresses it writes.
const callback = provider.callback();
const tenantSegment = /^\/(organizations|common|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(\/.*)?$/;
const server = http.createServer((req, res) => {
  const started = Date.now();
  res.on('finish', () => console.log(`${req.method} ${req.agsLog || req.url} ${res.statusCode} ${Date.now() - started}ms`));
  req.agsLog = req.url;
  if (entra) {
    const m = tenantSegment.exec(req.url);
    if (m) {
      let rest = m[2] || '/';
      if (rest.startsWith('/v2.0/.well-known/')) rest = rest.slice('/v2.0'.length);
      req.agsMount = `/${m[1]}`;
      req.originalUrl = req.agsMount + rest;
      req.url = rest;
    }
  } else if (mount && (req.url === mount || req.url.startsWith(`${mount}/`) || req.url.startsWith(`${mount}?`))) {
    req.agsMount = mount;
    req.originalUrl = req.url;
    req.url = req.url.slice(mount.length) || '/';
  }
  callback(req, res);
});
server.listen(cfg.port, '127.0.0.1', () => {
  console.log(`oidc-provider ${profile} listening on ${origin}, issuer ${entra ? `${issuerTemplate} (${provider.issuer})` : baseIssuer}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
