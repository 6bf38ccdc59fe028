/**
 * Exclude patterns as mksquashfs -wildcards reads them: relative to the root, matched one path
 * component at a time (fnmatch with FNM_PATHNAME | FNM_PERIOD), so `*` never crosses a `/` and
 * never matches a leading dot: `var/tmp/*` leaves `var/tmp/.hidden` in. Excluding a directory
 * excludes everything below it.
 */

/** mksquashfs -wildcards treats * ? [ ] and backslash specially. */
export function globEscape(path: string): string {
  return path.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Both patterns a directory's whole contents need, hidden entries included. */
export function contentsOf(dir: string): string[] {
  const d = globEscape(dir);
  return [`${d}/*`, `${d}/.*`];
}

/** A pattern's components: leading '/' and empty components dropped, as mksquashfs does. */
export function patternComponents(pattern: string): string[] {
  return pattern.split('/').filter((c) => c !== '' && c !== '.');
}

/** User patterns as mksquashfs takes them: relative to the root (a leading `/` means the root), no empty components. */
export function normalisePattern(pattern: string): string {
  return patternComponents(pattern).join('/');
}

export function hasWildcard(component: string): boolean {
  return /(?<!\\)[*?[]/.test(component);
}

/** Undoes backslash escapes in a component without wildcards. */
export function literalOf(component: string): string {
  return component.replace(/\\(.)/g, '$1');
}

const regexCache = new Map<string, RegExp>();

function toRegExp(component: string): RegExp {
  let re = '';
  for (let i = 0; i < component.length; i++) {
    const c = component[i] ?? '';
    if (c === '\\' && i + 1 < component.length) re += escapeRe(component[++i] ?? '');
    else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = component.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = component.slice(i + 1, close);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, 's');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** One directory entry's name against one pattern component. */
export function matchComponent(component: string, name: string): boolean {
  // FNM_PERIOD: a leading dot must be matched by a literal dot.
  if (name.startsWith('.') && !component.startsWith('.') && !component.startsWith('\\.')) return false;
  let re = regexCache.get(component);
  if (!re) {
    re = toRegExp(component);
    regexCache.set(component, re);
  }
  return re.test(name);
}
