/**
 * Creates an element. Attributes set to `true` become empty attributes, `false`/`null`/`undefined`
 * ones are left out; children are nodes or strings (text, never parsed as HTML), arrays flattened.
 * @param {string} tag
 * @param {Object<string, string|boolean|null|undefined>} [attrs]
 * @param {...(Node|string|Array|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const name in attrs) {
    const value = attrs[name];
    if (value != null && value !== false) el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...nodes(children));
  return el;
}

/**
 * Flattens children and drops the empty ones (`null`, `undefined`, `false`, `""`).
 * @param {Array} children
 * @returns {Array<Node|string>}
 */
export function nodes(children) {
  return children.flat(Infinity).filter(Boolean);
}

/**
 * Replaces `{name}` placeholders of a text with the given values (no `$` pattern surprises).
 * @param {string} text
 * @param {Object<string, string>} values
 * @returns {string}
 */
export function format(text, values) {
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? values[name] : match));
}
