// The hash router: `#/sign-in`, `#/fleet` (the default), `#/chargers/<id>`, `#/sessions[/<id>]`,
// `#/invoices[/<id>]`, `#/incidents[/<id>]`, `#/uptime`, `#/money`, `#/tariffs/<id>`, `#/load`, `#/analytics`; a
// query after `?` is the page's filters. A page's render answers its cleanup.
import { apiKey, configure, scope, signOut } from "./api.js";
import { disposeWithin } from "./charts.js";
import { h, problemText } from "./dom.js";
import * as analytics from "./pages/analytics.js";
import * as charger from "./pages/charger.js";
import * as fleet from "./pages/fleet.js";
import * as incident from "./pages/incident.js";
import * as incidents from "./pages/incidents.js";
import * as invoice from "./pages/invoice.js";
import * as invoices from "./pages/invoices.js";
import * as load from "./pages/load.js";
import * as money from "./pages/money.js";
import * as session from "./pages/session.js";
import * as sessions from "./pages/sessions.js";
import * as signin from "./pages/signin.js";
import * as tariff from "./pages/tariff.js";
import * as uptime from "./pages/uptime.js";

const ROUTES = [
  [/^#\/sign-in$/, signin],
  [/^#\/fleet$/, fleet],
  [/^#\/chargers\/([^/]+)$/, charger],
  [/^#\/sessions$/, sessions],
  [/^#\/sessions\/([^/]+)$/, session],
  [/^#\/invoices$/, invoices],
  [/^#\/invoices\/([^/]+)$/, invoice],
  [/^#\/incidents$/, incidents],
  [/^#\/incidents\/([^/]+)$/, incident],
  [/^#\/uptime$/, uptime],
  [/^#\/money$/, money],
  [/^#\/tariffs\/([^/]+)$/, tariff],
  [/^#\/load$/, load],
  [/^#\/analytics$/, analytics],
];
const SCOPES = { "read-only": "read-only key", support: "support key: may send commands",
  operator: "operator key: may change things" };
const main = document.getElementById("main");
let cleanup = null;
let routing = 0; // which navigation is the latest: a page still loading when the next begins is dropped

function showNav(signedIn, path) {
  const nav = document.getElementById("nav");
  nav.hidden = !signedIn;
  for (const item of nav.querySelectorAll("a[href]")) {
    const here = path === item.getAttribute("href") || path.startsWith(`${item.dataset.section || item.getAttribute("href")}/`);
    if (here) item.setAttribute("aria-current", "page");
    else item.removeAttribute("aria-current");
  }
  document.getElementById("key-scope").textContent = SCOPES[scope()];
}

async function route() {
  const mine = (routing += 1);
  if (cleanup) cleanup();
  cleanup = null;
  const [path, query = ""] = (location.hash || "#/fleet").split("?");
  if (!apiKey() && path !== "#/sign-in") {
    location.replace("#/sign-in");
    return;
  }
  const found = ROUTES.map(([pattern, page]) => [path.match(pattern), page]).find(([match]) => match);
  if (!found) {
    location.replace("#/fleet");
    return;
  }
  const [match, page] = found;
  showNav(Boolean(apiKey()), path);
  disposeWithin(main);
  // Each page renders into a view of its own, shown only if no other navigation began meanwhile.
  const view = document.createElement("div");
  main.replaceChildren(view);
  const params = match.slice(1).map(decodeURIComponent);
  let done = null;
  try {
    done = await page.render(view, params, new URLSearchParams(query));
  } catch (failure) {
    view.append(h("p", { class: "error", role: "alert", text: problemText(failure) }));
  }
  if (mine !== routing) {
    if (done) done();
    return;
  }
  cleanup = done;
  main.focus();
}

document.getElementById("sign-out").addEventListener("click", () => {
  signOut();
  location.hash = "#/sign-in";
});
window.addEventListener("hashchange", route);
configure().then(route);
