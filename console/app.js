// The hash router: `#/sign-in`, `#/fleet` (the default), `#/chargers/<id>`; a page's render answers its cleanup.
import { apiKey, canCommand, configure, signOut } from "./api.js";
import * as charger from "./pages/charger.js";
import * as fleet from "./pages/fleet.js";
import * as signin from "./pages/signin.js";

const ROUTES = [
  [/^#\/sign-in$/, signin],
  [/^#\/fleet$/, fleet],
  [/^#\/chargers\/([^/]+)$/, charger],
];
const main = document.getElementById("main");
let cleanup = null;

function showNav(signedIn) {
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("key-scope").textContent = canCommand() ? "may send commands" : "read-only key";
}

async function route() {
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
  showNav(Boolean(apiKey()));
  main.replaceChildren();
  const params = match.slice(1).map(decodeURIComponent);
  cleanup = await page.render(main, params, new URLSearchParams(query));
  main.focus();
}

document.getElementById("sign-out").addEventListener("click", () => {
  signOut();
  location.hash = "#/sign-in";
});
window.addEventListener("hashchange", route);
configure().then(route);
