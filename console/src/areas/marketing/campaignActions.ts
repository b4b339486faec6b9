// Activate, pause and end a campaign, each after a confirmation (ending is final; activating starts
// spending). A large cash budget's activation answers 202: a second person approves it (Approvals).
import { ElMessageBox } from 'element-plus'
import { api, errorOf } from '@/api/client'
import type { components } from '@/api/schema'
import { can } from '@/session'
import { showDone, showError } from '@/notify'
import { t } from '@/i18n'

export type Campaign = components['schemas']['AdminCampaignRead']
export type CampaignAction = 'activate' | 'pause' | 'end'

const FROM: Record<CampaignAction, string[]> = { activate: ['draft', 'paused'], pause: ['active'], end: ['draft', 'active', 'paused'] }

/** The moves the campaign's status allows and the user's role may make (the API decides again). */
export function actionsFor(campaign: Campaign): CampaignAction[] {
  return (Object.keys(FROM) as CampaignAction[]).filter((action) =>
    FROM[action].includes(String(campaign.status)) && can(`POST /api/admin/campaigns/{campaign_id}/${action}`))
}

/** Ask, then move the campaign; true when it moved (or went to approval). */
export async function runAction(campaign: Campaign, action: CampaignAction): Promise<boolean> {
  try {
    await ElMessageBox.confirm(t(`mkt.campaign.confirm.${action}`, { name: campaign.name }), t(`mkt.campaign.action.${action}`), {
      type: action === 'end' ? 'warning' : 'info', confirmButtonText: t('common.confirm'), cancelButtonText: t('common.cancel'),
    })
  } catch {
    return false
  }
  try {
    const path = `/api/admin/campaigns/{campaign_id}/${action}` as '/api/admin/campaigns/{campaign_id}/activate'
    const { error: failed, response } = await api.POST(path, { params: { path: { campaign_id: campaign.id! } } })
    if (!response.ok) throw await errorOf(response, failed)
    showDone(response.status === 202 ? t('mkt.campaign.approvalRequested') : t(`mkt.campaign.done.${action}`))
    return true
  } catch (error) {
    showError(error)
    return false
  }
}
