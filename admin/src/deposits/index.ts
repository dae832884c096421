import Payments from '@mui/icons-material/Payments';
import { DepositCreate } from './DepositCreate';
import { DepositList } from './DepositList';
import { DepositShow } from './DepositShow';

export default { list: DepositList, show: DepositShow, create: DepositCreate, icon: Payments };
