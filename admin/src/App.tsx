import type { Role } from '@ai-village/control-plane/contract';
import { Admin, CustomRoutes, Resource } from 'react-admin';
import { Route } from 'react-router-dom';
import agents from './agents';
import audit from './audit';
import { authProvider } from './auth-provider';
import { Dashboard } from './dashboard/Dashboard';
import { dataProvider } from './data-provider';
import deposits from './deposits';
import egressRequests from './egress-requests';
import flags from './flags';
import gpuUsage from './gpu-usage';
import fleet from './fleet';
import llmModels from './llm-models';
import llmUpstreams from './llm-upstreams';
import { ConsoleLayout } from './Menu';
import nodes from './nodes';
import pausedAgents from './paused-agents';
import posts from './posts';
import { ReconciliationPage } from './reconciliation/ReconciliationPage';
import refunds from './refunds';
import { TierPolicyPage } from './tiers/TierPolicyPage';
import toolCalls from './tool-calls';
import transfers from './transfers';
import usage from './usage';
import users from './users';
import verifications from './verifications';
import webhookEvents from './webhook-events';

/**
 * The console: one folder per resource (react-admin's demo layout). Moderators get every list and
 * the moderation acts; the forms only admins may send (edit an agent, a transfer, a deposit, a role)
 * exist for admins alone, and so do the pages that are only admins' (the LLM upstreams and model
 * prices). The server refuses them to anyone else either way.
 */
export function App() {
  return (
    <Admin
      title="AI Village console"
      authProvider={authProvider}
      dataProvider={dataProvider}
      dashboard={Dashboard}
      layout={ConsoleLayout}
      requireAuth
      disableTelemetry
    >
      {(role: Role) => {
        const isAdmin = role === 'admin';
        return (
          <>
            <Resource name="agents" {...agents} edit={isAdmin ? agents.edit : undefined} />
            <Resource name="flags" {...flags} />
            <Resource name="posts" {...posts} />
            <Resource name="transfers" {...transfers} create={isAdmin ? transfers.create : undefined} />
            <Resource name="deposits" {...deposits} create={isAdmin ? deposits.create : undefined} />
            <Resource name="webhook-events" {...webhookEvents} />
            <Resource name="refunds" {...refunds} />
            <Resource name="verifications" {...verifications} />
            <Resource name="fleet" {...fleet} />
            <Resource name="nodes" {...nodes} />
            <Resource name="usage" {...usage} />
            <Resource name="paused-agents" {...pausedAgents} />
            {isAdmin && <Resource name="llm-upstreams" {...llmUpstreams} />}
            {isAdmin && <Resource name="llm-models" {...llmModels} />}
            <Resource name="gpu-usage" {...gpuUsage} />
            <Resource name="tool-calls" {...toolCalls} />
            <Resource name="egress-requests" {...egressRequests} />
            <Resource name="users" {...users} edit={isAdmin ? users.edit : undefined} />
            <Resource name="audit" {...audit} />
            <CustomRoutes>
              <Route path="/tiers" element={<TierPolicyPage />} />
              <Route path="/reconciliation" element={<ReconciliationPage />} />
            </CustomRoutes>
          </>
        );
      }}
    </Admin>
  );
}
