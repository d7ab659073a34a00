// The closed vocabularies (set variants and their labels, ...) as the API serves them
// (GET /vocabulary): the page keeps no copy of its own.
import { api } from "./http.js";

let vocabulary = { set_variants: [] };

export async function loadVocabulary() {
  vocabulary = await api("/vocabulary");
  return vocabulary;
}

export const setVariants = () => vocabulary.set_variants;

export function variantLabel(value) {
  const found = vocabulary.set_variants.find((v) => v.value === value);
  return found ? found.label : value;
}
