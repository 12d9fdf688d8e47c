// Sign-in: the key is tried on GET /chargers; a wrong one shows the API's own message.
import { signIn } from "../api.js";
import { h, problemText } from "../dom.js";

export function render(main) {
  const key = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true, "aria-describedby": "sign-in-error" });
  const error = h("p", { id: "sign-in-error", class: "error", role: "alert" });
  const button = h("button", { id: "sign-in", type: "submit", text: "Sign in" });
  const form = h("form", { class: "card narrow", on: { submit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      await signIn(key.value.trim());
      location.hash = "#/fleet";
    } catch (failure) {
      error.textContent = problemText(failure);
    } finally {
      button.disabled = false;
    }
  } } },
  h("label", { for: "api-key", text: "API key" }), key,
  h("p", { class: "muted", text: "csms run prints the operator API key. It is kept in this browser tab only." }),
  button, error);
  main.append(h("h1", { text: "Sign in" }), form);
  key.focus();
}
