// What a key may do: its scope from the sign-in probes, the routes' scopes from routes.json, and a 403 remembered.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

const storage = new Map();
globalThis.sessionStorage = {
  getItem: (key) => (storage.has(key) ? storage.get(key) : null),
  setItem: (key, value) => storage.set(key, String(value)),
  removeItem: (key) => storage.delete(key),
};
globalThis.location = { hash: "#/sign-in" };
const ROUTES = {
  "GET /chargers": ["admin", "operator", "read-only", "support"],
  "POST /chargers/{charge_point_id}/commands": ["admin", "operator", "support"],
  "POST /curtailments": ["admin", "operator"],
  "DELETE /tariffs/{tariff_id}": ["admin"],
};
let refusing = new Set(); // the probe paths the API answers 403 to
const answer = (status, body) => ({ ok: status < 300, status, statusText: "", json: async () => body,
  text: async () => JSON.stringify(body) });
globalThis.fetch = async (url, init = {}) => {
  if (url === "./config.json") return answer(200, { api_url: "" });
  if (url === "./routes.json") return answer(200, ROUTES);
  if (init.method === "POST") return refusing.has(url) ? answer(403, { detail: "no" }) : answer(422, { detail: "empty body" });
  return answer(200, { items: [], next_token: null });
};

const api = await import("../../../console/api.js");
await api.configure();

async function signedInAs(refused) {
  refusing = new Set(refused);
  await api.signIn("csms_key");
}

beforeEach(() => storage.clear());

test("a read-only key may read and do nothing else", async () => {
  await signedInAs(["/chargers/console-scope-probe/commands", "/curtailments"]);
  assert.equal(api.scope(), "read-only");
  assert.equal(api.may("GET", "/chargers"), true);
  assert.equal(api.canCommand(), false);
  assert.equal(api.may("POST", "/curtailments"), false);
});

test("a support key sends commands but does not curtail", async () => {
  await signedInAs(["/curtailments"]);
  assert.equal(api.scope(), "support");
  assert.equal(api.canCommand(), true);
  assert.equal(api.may("POST", "/curtailments"), false);
});

test("an operator key is offered admin's routes too, until the API refuses one", async () => {
  await signedInAs([]);
  assert.equal(api.scope(), "operator");
  assert.equal(api.may("DELETE", "/tariffs/{tariff_id}"), true);
  api.forbid("DELETE", "/tariffs/{tariff_id}");
  assert.equal(api.may("DELETE", "/tariffs/{tariff_id}"), false);
  api.signOut();
  assert.equal(api.apiKey(), null);
  assert.equal(api.scope(), "read-only");
});
