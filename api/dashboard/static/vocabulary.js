// The closed vocabularies (set variants and their labels, ...) as the API serves them
// (GET /vocabulary): the page keeps no copy of its own.
import { api } from "./http.js";

let vocabulary = { set_variants: [], placements: [], sensor_kinds: [] };

export async function loadVocabulary() {
  vocabulary = await api("/vocabulary");
  return vocabulary;
}

export const setVariants = () => vocabulary.set_variants;

// Any vocabulary by its name (step_kinds, verdict_fields, verdict_values, ...), in the API's order.
export const terms = (name) => vocabulary[name] || [];

export function termLabel(name, value) {
  const found = terms(name).find((t) => t.value === value);
  return found ? found.label : value;
}

export function variantLabel(value) {
  const found = vocabulary.set_variants.find((v) => v.value === value);
  return found ? found.label : value;
}

export const placements = () => vocabulary.placements;

export function sensorKindLabel(value) {
  const found = vocabulary.sensor_kinds.find((k) => k.value === value);
  return found ? found.label : value;
}
