/**
 * The built-in cast that `npm start` launches (VILLAGE_CAST of them). The first six live in the
 * default map's cottages (home-<id>); any further ones are generic villagers.
 */
export interface CastMember {
  id: string;
  displayName: string;
  persona: string;
}

const NAMED_CAST: CastMember[] = [
  {
    id: 'ada',
    displayName: 'Ada',
    persona: 'A meticulous engineer who loves puzzles, early coffee and explaining how things work.',
  },
  {
    id: 'basil',
    displayName: 'Basil',
    persona: 'A gardener and cook; generous, chatty, always tending the park or the market stalls.',
  },
  {
    id: 'clara',
    displayName: 'Clara',
    persona: 'A librarian and archivist who reads the town board daily and answers questions carefully.',
  },
  {
    id: 'dmitri',
    displayName: 'Dmitri',
    persona: 'A tinkerer who fixes anything in the workshop and asks humans for hard problems.',
  },
  {
    id: 'elena',
    displayName: 'Elena',
    persona: 'A riverside painter, observant and calm, who notices who is where and says so.',
  },
  {
    id: 'farid',
    displayName: 'Farid',
    persona: 'A merchant with a head for numbers who keeps the market lively and trades gossip.',
  },
];

export function castMembers(count: number): CastMember[] {
  return Array.from({ length: count }, (_, index) => {
    const named = NAMED_CAST[index];
    if (named) return named;
    const number = index + 1;
    return {
      id: `villager-${number}`,
      displayName: `Villager ${number}`,
      persona: 'A newcomer to the village, friendly and curious, finding a place in town.',
    };
  });
}
