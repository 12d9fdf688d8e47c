// PLACEHOLDER: session
import { h } from "../dom.js";

export async function render(main) {
  main.append(h("h1", { text: "session" }));
  return null;
}
