import OutlinedFlag from '@mui/icons-material/OutlinedFlag';
import { FlagList } from './FlagList';

export default { list: FlagList, icon: OutlinedFlag, options: { label: 'Flag queue' } };
