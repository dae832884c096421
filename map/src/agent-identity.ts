// How an agent looks wherever it appears (marker, card, list, feed): a colour from its id and initials.

/** A stable, well-spread hue per id (FNV-1a), at a saturation and lightness that keep white text readable. */
export function agentColour(id: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  const hue = (hash >>> 0) % 360;
  return `hsl(${hue} 62% 42%)`;
}

export function initials(displayName: string): string {
  const words = displayName
    .trim()
    .split(/[\s_-]+/u)
    .filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [words[0]?.slice(0, 2)];
  return (
    letters
      .map((word) => (word ? Array.from(word)[0] : ''))
      .join('')
      .toUpperCase() || '?'
  );
}

/** A small coloured disc with initials, for lists and the card. */
export function agentAvatar(agent: { id: string; displayName: string }, className = 'avatar'): HTMLElement {
  const avatar = document.createElement('span');
  avatar.className = className;
  avatar.style.background = agentColour(agent.id);
  avatar.textContent = initials(agent.displayName);
  avatar.setAttribute('aria-hidden', 'true');
  return avatar;
}
