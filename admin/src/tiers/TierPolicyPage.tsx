import {
  formatAiDollars,
  TierPolicyRequestSchema,
  type TierPolicy,
  type TierPolicyRequest,
  type TierPreview,
} from '@ai-village/control-plane/contract';
import {
  Alert,
  Card,
  CardContent,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from '@mui/material';
import { useEffect, useState } from 'react';
import { Button, Title, useNotify } from 'react-admin';
import { millsOrZeroFrom } from '../money';
import { useIsAdmin } from '../roles';
import { village } from '../session';
import { messageOf } from '../use-action';
import { FieldError, validateWith } from '../validation';

interface TierDraft {
  name: string;
  minBalance: string;
  entitlements: string;
}
interface PolicyDraft {
  hysteresis: string;
  tiers: TierDraft[];
}

const draftOf = (policy: TierPolicy): PolicyDraft => ({
  hysteresis: formatAiDollars(policy.hysteresis),
  tiers: policy.tiers.map((tier) => ({
    name: tier.name,
    minBalance: formatAiDollars(tier.minBalance),
    entitlements: JSON.stringify(tier.entitlements, null, 2),
  })),
});

/** The draft as `PUT /api/economy/tiers` takes it (aiDollars to mills, entitlements parsed). */
function requestOf(draft: PolicyDraft): TierPolicyRequest {
  return {
    hysteresis: millsOrZeroFrom(draft.hysteresis, 'hysteresis'),
    tiers: draft.tiers.map((tier, level) => {
      let entitlements: unknown;
      try {
        entitlements = JSON.parse(tier.entitlements);
      } catch {
        throw new FieldError(`tiers.${level}.entitlements`, 'entitlements must be JSON');
      }
      return {
        level,
        name: tier.name,
        minBalance: millsOrZeroFrom(tier.minBalance, `tiers.${level}.minBalance`),
        entitlements,
      } as TierPolicyRequest['tiers'][number];
    }),
  };
}

const validate = validateWith<Record<string, unknown>>(TierPolicyRequestSchema, 'hysteresis', (values) =>
  requestOf(values as unknown as PolicyDraft),
);

/** Flattens nested form errors to `tiers.1.minBalance` keys, for the fields below. */
function flatten(errors: Record<string, unknown>, prefix = ''): Record<string, string> {
  return Object.fromEntries(
    Object.entries(errors).flatMap(([key, value]) =>
      typeof value === 'string'
        ? [[`${prefix}${key}`, value]]
        : Object.entries(flatten(value as Record<string, unknown>, `${prefix}${key}.`)),
    ),
  );
}

/**
 * The tier policy: thresholds, hysteresis and what each tier allows. Anyone here may preview which
 * agents a draft would move; only admins save it (a new policy version, every agent recomputed).
 */
export function TierPolicyPage() {
  const isAdmin = useIsAdmin();
  const notify = useNotify();
  const [policy, setPolicy] = useState<TierPolicy>();
  const [draft, setDraft] = useState<PolicyDraft>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [preview, setPreview] = useState<TierPreview>();

  useEffect(() => {
    village
      .tierPolicy()
      .then((current) => {
        setPolicy(current);
        setDraft(draftOf(current));
      })
      .catch((error: unknown) => notify(messageOf(error), { type: 'error' }));
  }, [notify]);

  if (!draft || !policy) return <Title title="Tier policy" />;

  const checked = (): TierPolicyRequest | undefined => {
    const found = flatten(validate(draft as unknown as Record<string, unknown>));
    setErrors(found);
    return Object.keys(found).length ? undefined : requestOf(draft);
  };
  const run = async (action: (request: TierPolicyRequest) => Promise<void>) => {
    const request = checked();
    if (!request) return;
    try {
      await action(request);
    } catch (error) {
      notify(messageOf(error), { type: 'error' });
    }
  };
  const setTier = (level: number, change: Partial<TierDraft>) =>
    setDraft({ ...draft, tiers: draft.tiers.map((tier, index) => (index === level ? { ...tier, ...change } : tier)) });
  const field = (key: string) => ({ error: !!errors[key], helperText: errors[key] ?? ' ', disabled: !isAdmin });
  const tierName = (level: number) => draft.tiers[level]?.name ?? policy.tiers[level]?.name ?? String(level);

  return (
    <Card>
      <Title title="Tier policy" />
      <CardContent>
        <Typography variant="body2" gutterBottom>
          Version {policy.version}, by {policy.createdBy} at {policy.createdAt}. Amounts in aiDollars.
        </Typography>
        {errors.hysteresis === undefined && errors.tiers !== undefined && (
          <Alert severity="error">{errors.tiers}</Alert>
        )}
        <TextField
          label="Hysteresis (aiDollars below a threshold before a tier is lost)"
          value={draft.hysteresis}
          onChange={(event) => setDraft({ ...draft, hysteresis: event.target.value })}
          margin="dense"
          fullWidth
          {...field('hysteresis')}
        />
        {draft.tiers.map((tier, level) => (
          <Card key={level} variant="outlined" sx={{ my: 1, p: 1 }}>
            <Typography variant="subtitle2">Tier {level}</Typography>
            <TextField
              label="Name"
              value={tier.name}
              onChange={(event) => setTier(level, { name: event.target.value })}
              margin="dense"
              {...field(`tiers.${level}.name`)}
            />{' '}
            <TextField
              label="Minimum balance"
              value={tier.minBalance}
              onChange={(event) => setTier(level, { minBalance: event.target.value })}
              margin="dense"
              slotProps={{ htmlInput: { 'data-testid': `tier-${level}-min-balance` } }}
              {...field(`tiers.${level}.minBalance`)}
            />
            <TextField
              label="Entitlements (JSON)"
              value={tier.entitlements}
              onChange={(event) => setTier(level, { entitlements: event.target.value })}
              multiline
              fullWidth
              margin="dense"
              {...field(`tiers.${level}.entitlements`)}
            />
          </Card>
        ))}
        <Button
          label="Preview"
          data-testid="tiers-preview"
          onClick={() => run(async (request) => setPreview(await village.previewTierPolicy(request)))}
        />
        {isAdmin && (
          <Button
            label="Save as a new version"
            data-testid="tiers-save"
            onClick={() =>
              run(async (request) => {
                const saved = await village.setTierPolicy(request);
                setPolicy(saved);
                setDraft(draftOf(saved));
                setPreview(undefined);
                notify(`tier policy version ${saved.version} is in force`, { type: 'success' });
              })
            }
          />
        )}
        {preview && (
          <div data-testid="tiers-preview-result">
            <Typography variant="subtitle1" sx={{ mt: 2 }}>
              {preview.changes.length} of {preview.agents} agents would change tier
            </Typography>
            <Table size="small">
              <TableHead>
                <TableRow>
                  {['Agent', 'Balance', 'From', 'To', 'Pinned', 'Quarantined'].map((h) => (
                    <TableCell key={h}>{h}</TableCell>
                  ))}
                </TableRow>
              </TableHead>
              <TableBody>
                {preview.changes.map((row) => (
                  <TableRow key={row.agentId} data-testid="tiers-preview-row" data-agent-id={row.agentId}>
                    <TableCell>{row.agentId}</TableCell>
                    <TableCell>{formatAiDollars(row.balance)}</TableCell>
                    <TableCell>
                      {row.from} · {policy.tiers[row.from]?.name}
                    </TableCell>
                    <TableCell>
                      {row.to} · {tierName(row.to)}
                    </TableCell>
                    <TableCell>{row.pinned ?? '-'}</TableCell>
                    <TableCell>{row.quarantined ? 'yes' : ''}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </div>
        )}
      </CardContent>
    </Card>
  );
}
