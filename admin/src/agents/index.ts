import SmartToy from '@mui/icons-material/SmartToy';
import { AgentEdit } from './AgentEdit';
import { AgentList } from './AgentList';
import { AgentShow } from './AgentShow';

export default {
  list: AgentList,
  show: AgentShow,
  edit: AgentEdit,
  icon: SmartToy,
  recordRepresentation: 'displayName',
};
