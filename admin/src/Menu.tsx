import AccountBalance from '@mui/icons-material/AccountBalance';
import Layers from '@mui/icons-material/Layers';
import { Layout, Menu, type LayoutProps } from 'react-admin';

/** The resources, then the two pages that are not lists: the tier policy and the reconciliation. */
function ConsoleMenu() {
  return (
    <Menu>
      <Menu.DashboardItem />
      <Menu.ResourceItems />
      <Menu.Item to="/tiers" primaryText="Tier policy" leftIcon={<Layers />} data-testid="menu-tiers" />
      <Menu.Item to="/reconciliation" primaryText="Reconciliation" leftIcon={<AccountBalance />} />
    </Menu>
  );
}

export function ConsoleLayout(props: LayoutProps) {
  return <Layout {...props} menu={ConsoleMenu} />;
}
