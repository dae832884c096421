import type { GpuUsage } from '@ai-village/control-plane/contract';
import Speed from '@mui/icons-material/Speed';
import { Datagrid, DateField, FunctionField, List, NumberField, TextField, TextInput } from 'react-admin';
import { AiDollarsField } from '../money';

const filters = [<TextInput key="agentId" source="agentId" label="Agent" alwaysOn />];

/** Each agent's GPU bills per window: GPU-seconds measured on its node, the price at its tier, what was taken. */
function GpuUsageList() {
  return (
    <List filters={filters} sort={{ field: 'id', order: 'DESC' }}>
      <Datagrid bulkActionButtons={false}>
        <TextField source="id" />
        <TextField source="agentId" sortable={false} />
        <DateField source="windowStart" showTime sortable={false} />
        <NumberField source="samples" sortable={false} />
        <FunctionField label="GPU-seconds" render={(usage: GpuUsage) => usage.gpuSeconds.toFixed(1)} />
        <NumberField source="tier" sortable={false} />
        <AiDollarsField source="charged" sortable={false} />
        <AiDollarsField source="shortfall" sortable={false} />
        <TextField source="status" sortable={false} />
      </Datagrid>
    </List>
  );
}

export default { list: GpuUsageList, icon: Speed, options: { label: 'GPU usage' } };
