"""Chinese column headers of exports, for the field names the back-office lists share.

A schema field names its own label with ``metadata={"label_zh": ...}``; this dictionary is the
fallback for the common names. Every exported column needs one (tests/unit/test_exports.py walks
every list schema), so a new field without a label fails a test instead of shipping an English header.
"""
from __future__ import annotations

LABELS: dict[str, str] = {
    "action": "操作", "active": "启用", "actor_id": "操作人ID", "actor_name": "操作人", "actor_type": "操作人类型",
    "address": "地址", "amount": "数量", "amount_fen": "金额", "app": "小程序", "app_user_id": "用户ID",
    "approved_at": "批准时间", "approved_by": "批准人", "attempts": "尝试次数", "avatar_url": "头像",
    "balance_after": "变动后余额", "basis": "计算依据", "batch_id": "批次ID", "batch_no": "批次号",
    "bill_created_at": "转账单创建时间", "blacklist": "黑名单", "blacklisted": "已拉黑", "buyer_id": "买方ID",
    "buyer_kind": "买方类型", "campaign_id": "活动ID", "cancelled_at": "取消时间",
    "cases_per_pallet": "每托箱数", "changes": "变更内容", "channel": "渠道", "checked": "已核对数",
    "closed_at": "关闭时间", "code": "码", "commissioned_at": "赋码时间", "computed_at": "计算时间",
    "contacts": "联系人", "count": "数量", "coupon_code": "券码", "created_at": "创建时间",
    "created_by": "创建人", "created_by_admin_id": "创建管理员ID", "created_by_app_user_id": "创建用户ID",
    "daily_budget_fen": "每日预算", "day": "日期", "dealer_id": "经销商ID", "dealer_ids": "经销商ID列表",
    "decided_at": "审批时间", "decided_by": "审批人", "decided_by_id": "审批人ID", "delivered_at": "送达时间",
    "description": "说明", "detail": "详情", "display_name": "显示名称", "doubt_from": "存疑前状态",
    "draw_id": "抽奖ID", "drawn_at": "抽奖时间", "endpoint_id": "接收端ID", "ends_at": "结束时间",
    "ends_on": "结束日期", "entity_id": "对象ID", "entity_type": "对象类型", "event_id": "事件ID",
    "event_types": "事件类型", "executed_at": "执行时间", "expires_at": "过期时间", "expiry_date": "有效期至",
    "external_id": "外部编号", "factory_id": "工厂ID", "fail_reason": "失败原因", "finished_at": "完成时间",
    "first_scan_only": "仅首次扫码", "first_seen_at": "首次发现时间", "gtin": "GTIN商品条码",
    "held_reason": "暂扣原因", "hidden_code_digits": "暗码位数", "hidden_code_ok": "暗码正确",
    "hidden_code_required": "需要暗码", "hold_reason": "暂扣原因", "id": "编号", "image_url": "图片",
    "in_doubt_since": "存疑起始时间", "in_transit": "在途", "inspected_at": "检验时间",
    "inspection_note": "检验备注", "inspection_result": "检验结果", "ip": "IP地址", "is_active": "启用",
    "item_id": "商品ID", "items": "件数", "key_version": "密钥版本", "kind": "类型", "last_error": "最近错误",
    "last_login_at": "最近登录时间", "last_seen_at": "最近出现时间", "last_used_at": "最近使用时间",
    "latitude": "纬度", "level": "包装层级", "line_id": "产线ID", "locked_until": "锁定至",
    "longitude": "经度", "lot_id": "批次ID", "lot_ids": "批次ID列表", "lot_no": "生产批号",
    "material_id": "原料ID", "max_uses": "最多使用次数", "mismatches": "不符项", "mode": "模式", "name": "名称",
    "next_attempt_at": "下次尝试时间", "nickname": "昵称", "not_received": "未收货", "note": "备注",
    "openid": "OpenID", "order_id": "订单ID", "order_no": "订单号", "ordered_at": "下单时间",
    "out_bill_no": "商户单号", "outcome": "结果", "params": "参数", "parent_code": "上级码",
    "parent_id": "上级ID", "pass_score": "及格分", "payout_id": "付款ID",
    "per_user_daily_limit": "每人每日上限", "per_user_total_limit": "每人总上限", "period_end": "周期结束",
    "period_start": "周期开始", "phone": "手机号", "place_key": "位置标识", "points": "积分",
    "points_price": "积分价格", "prefix": "前缀", "prize_id": "奖品ID", "prize_kind": "奖品类型",
    "prizes": "奖品", "product": "产品", "product_id": "产品ID", "product_ids": "产品ID列表",
    "product_name": "产品名称", "production_date": "生产日期", "purpose": "用途", "quantity": "数量",
    "reason": "原因", "recall_id": "召回ID", "receipt_id": "收货ID", "received_at": "收货时间",
    "receiver_id": "收货方ID", "receiver_kind": "收货方类型", "region_code": "地区代码",
    "age_0_30": "库龄0-30天", "age_31_60": "库龄31-60天", "age_61_90": "库龄61-90天", "age_over_90": "库龄90天以上",
    "days_of_stock": "可售天数", "holder_id": "持有方ID", "holder_kind": "持有方类型", "holder_name": "持有方",
    "oldest_received_on": "最早入库日", "outflow": "出库量",
    "accepted": "通过", "duplicate": "重复读取", "operator": "操作员", "pass_rate": "合格率", "rejected": "拒收",
    "stopped_at": "结束时间", "raw_material_lot_id": "原料批次ID", "record_id": "记录号", "recorded_at": "记录时间",
    "region_codes": "地区代码列表", "regions": "数据范围(地区)", "remaining": "剩余", "removed_at": "移除时间", "request_id": "请求号",
    "requested_at": "申请时间", "requested_by": "申请人", "requested_by_id": "申请人ID",
    "resolution": "处理结果", "resolved_at": "处理时间", "resolved_by": "处理人", "revoked_at": "吊销时间",
    "reward_amount": "奖励数额", "reward_kind": "奖励类型", "role": "角色", "rule_id": "规则ID",
    "scan_id": "扫码ID", "scan_number": "扫码次序", "scanned_at": "扫码时间", "scans": "扫码次数",
    "scopes": "权限范围", "seen_at": "发现时间", "seen_by": "发现人", "seen_kind": "发现方类型",
    "seller_id": "卖方ID", "seller_kind": "卖方类型", "serial": "序列号", "serial_end": "序列号止",
    "serial_start": "序列号起", "shelf_life_days": "保质期(天)", "shift": "班次", "shipment_id": "发货单ID",
    "shipped_at": "发货时间", "shipped_by": "发货人", "shipper_id": "发货方ID", "shipper_kind": "发货方类型",
    "sku": "SKU编码", "sold": "已售", "source": "来源", "specification": "规格", "spent_fen": "已花费",
    "sscc_company_prefix": "SSCC厂商前缀", "starts_at": "开始时间", "starts_on": "开始日期", "status": "状态",
    "stock": "库存", "store_id": "门店ID", "supplier_id": "供应商ID", "target_id": "目标ID",
    "target_type": "目标类型", "territory": "销售区域", "tier": "层级", "title": "标题",
    "total_budget_fen": "总预算", "total_fen": "合计金额", "tracking_no": "物流单号",
    "transfer_bill_no": "微信转账单号", "unit": "单位", "units": "单品数", "units_per_case": "每箱单品数",
    "updated_at": "更新时间", "url": "网址", "used_count": "已使用次数", "username": "用户名",
    "verdict": "鉴定结果", "version": "版本", "void_reason": "作废原因", "voided_at": "作废时间",
    "warehouse_id": "仓库ID", "warehouse_name": "仓库名称", "wechat_state": "微信状态",
    "withheld": "已暂扣", "withhold_not_received": "未收货暂扣", "wxacode_url": "小程序码",
    "format": "格式", "path": "导出的列表", "filters": "筛选条件", "rows_done": "已写行数",
    "rows_total": "总行数", "file_size": "文件大小(字节)", "error": "错误", "links": "链接",
    "started_at": "开始时间",
    # Frequent in reports and nested shapes.
    "dealer": "经销商", "store": "门店", "warehouse": "仓库", "factory": "工厂", "line": "产线",
    "region": "地区", "campaign": "活动", "lot": "批次", "place": "位置", "total": "合计", "rows": "行数",
    "location": "当前位置", "province": "省", "city": "市", "district": "区县", "region_name": "地区名称",
}


def label_of(name: str, field=None) -> str | None:
    """The Chinese label of a field: its own metadata first, else the shared dictionary."""
    if field is not None and field.metadata.get("label_zh"):
        return field.metadata["label_zh"]
    return LABELS.get(name)
