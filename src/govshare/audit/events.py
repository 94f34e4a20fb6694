"""The typed catalogue of audit events. Services emit only these."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    login = "auth.login"
    login_failed = "auth.login_failed"
    logout = "auth.logout"
    account_locked = "auth.account_locked"
    token_rejected = "auth.token_rejected"
    access_denied = "access.denied"
    password_changed = "user.password_changed"
    password_reset = "user.password_reset"
    user_created = "user.created"
    user_updated = "user.updated"
    user_unlocked = "user.unlocked"
    role_granted = "user.role_granted"
    role_revoked = "user.role_revoked"
    user_offboarded = "user.offboarded"
    session_revoked = "user.session_revoked"
    registration_submitted = "registration.submitted"
    registration_approved = "registration.approved"
    registration_rejected = "registration.rejected"
    registration_ended = "registration.ended"
    org_created = "org.created"
    org_updated = "org.updated"
    org_credit_code_warning = "org.credit_code_warning"
    system_created = "system.created"
    system_updated = "system.updated"
    system_disabled = "system.disabled"
    system_token_issued = "system.token_issued"
    system_token_revoked = "system.token_revoked"
    system_token_used = "system.token_used"
    system_address_refused = "system.address_refused"
    task_reassigned = "task.reassigned"
    audit_verified = "audit.verified"
    audit_searched = "audit.searched"
    audit_checkpoint = "audit.checkpoint"
    demo_loaded = "platform.demo_loaded"
    catalog_created = "catalog.created"
    catalog_updated = "catalog.updated"
    catalog_secrecy_recorded = "catalog.secrecy_recorded"
    catalog_submitted = "catalog.submitted"
    catalog_approved = "catalog.approved"
    catalog_returned = "catalog.returned"
    catalog_retire_requested = "catalog.retire_requested"
    catalog_discarded = "catalog.discarded"
    catalog_imported = "catalog.imported"
    catalog_exported = "catalog.exported"
    catalog_class_created = "catalog.class_created"
    catalog_class_updated = "catalog.class_updated"
    element_created = "element.created"
    element_updated = "element.updated"
    element_conflict_opened = "element.conflict_opened"
    element_conflict_resolved = "element.conflict_resolved"
    batch_ingested = "data.batch_ingested"
    quality_rules_changed = "data.quality_rules_changed"
    quarantine_exported = "data.quarantine_exported"
    file_uploaded = "data.file_uploaded"
    file_downloaded = "data.file_downloaded"
    sync_source_saved = "data.sync_source_saved"
    sync_source_removed = "data.sync_source_removed"
    sync_run_started = "data.sync_run_started"
    sync_run_finished = "data.sync_run_finished"
    sync_run_failed = "data.sync_run_failed"
    service_saved = "data.service_saved"
    service_called = "data.service_called"
    share_requested = "sharing.requested"
    share_decided = "sharing.decided"
    share_disputed = "sharing.disputed"
    share_ruled = "sharing.ruled"
    share_overdue = "sharing.overdue"
    feedback_filed = "sharing.feedback_filed"
    feedback_answered = "sharing.feedback_answered"
    feedback_closed = "sharing.feedback_closed"
    feedback_reopened = "sharing.feedback_reopened"
    feedback_overdue = "sharing.feedback_overdue"
    export_requested = "sharing.export_requested"
    export_decided = "sharing.export_decided"
    export_downloaded = "sharing.export_downloaded"
    leak_traced = "sharing.leak_traced"
    grant_changed = "sharing.grant_changed"
    data_delivered = "sharing.data_delivered"
    data_refused = "sharing.data_refused"
    row_traced = "data.row_traced"
    holiday_schedule_loaded = "calendar.schedule_loaded"
    masking_profile_created = "masking.profile_created"
    masking_profile_updated = "masking.profile_updated"
    masking_previewed = "masking.previewed"
    backup_policy_changed = "backup.policy_changed"
    backup_requested = "backup.requested"
    backup_created = "backup.created"
    backup_failed = "backup.failed"
    backup_pruned = "backup.pruned"
    backup_drilled = "backup.drilled"
    backup_restored = "backup.restored"
    data_key_rotated = "encryption.key_rotated"
    alert_raised = "protection.alert_raised"
    alert_extended = "protection.alert_extended"
    alert_assigned = "protection.alert_assigned"
    alert_investigating = "protection.alert_investigating"
    alert_closed = "protection.alert_closed"
    alert_rule_changed = "protection.rule_changed"
    incident_created = "protection.incident_created"
    incident_noted = "protection.incident_noted"
    incident_alert_linked = "protection.incident_alert_linked"
    incident_closed = "protection.incident_closed"
    containment_applied = "protection.containment_applied"
    containment_lifted = "protection.containment_lifted"
    classification_changed = "classification.level_changed"
    asset_register_exported = "classification.register_exported"
    destruction_requested = "destruction.requested"
    destruction_department_approved = "destruction.department_approved"
    destruction_bureau_approved = "destruction.bureau_approved"
    destruction_refused = "destruction.refused"
    destruction_withdrawn = "destruction.withdrawn"
    destruction_executed = "destruction.executed"
    policy_created = "policy.created"
    policy_revised = "policy.revised"
    policy_reviewed = "policy.reviewed"
    policy_retired = "policy.retired"
    policy_review_due = "policy.review_due"
    report_published = "report.published"
    violation_detected = "rectification.violation_detected"
    violation_entered = "rectification.violation_entered"
    violation_dismissed = "rectification.violation_dismissed"
    violation_resolved = "rectification.violation_resolved"
    notice_issued = "rectification.notice_issued"
    notice_reported = "rectification.notice_reported"
    notice_verified = "rectification.notice_verified"
    notice_rejected = "rectification.notice_rejected"
    notice_escalated = "rectification.notice_escalated"
    open_data_delivered = "open.data_delivered"
    open_application_submitted = "open.application_submitted"
    open_application_approved = "open.application_approved"
    open_application_rejected = "open.application_rejected"
    open_application_refused = "open.application_refused"
    open_settings_changed = "open.settings_changed"
    analysis_run = "analysis.query_run"
    analysis_refused = "analysis.query_refused"
    analysis_checked = "analysis.checked"
    analysis_released = "analysis.released"
    analysis_release_refused = "analysis.release_refused"

    @property
    def label(self) -> str:
        return EVENT_LABELS.get(self, self.value)


EVENT_LABELS: dict[EventType, str] = {
    EventType.login: "登录",
    EventType.login_failed: "登录失败",
    EventType.logout: "退出登录",
    EventType.account_locked: "账号锁定",
    EventType.token_rejected: "令牌被拒绝",
    EventType.access_denied: "越权访问被拒绝",
    EventType.password_changed: "修改密码",
    EventType.password_reset: "重置密码",
    EventType.user_created: "新建人员",
    EventType.user_updated: "修改人员",
    EventType.user_unlocked: "解锁账号",
    EventType.role_granted: "授予角色",
    EventType.role_revoked: "收回角色",
    EventType.user_offboarded: "离任办理",
    EventType.session_revoked: "终止会话",
    EventType.registration_submitted: "提交人员备案",
    EventType.registration_approved: "备案通过",
    EventType.registration_rejected: "备案退回",
    EventType.registration_ended: "备案终止",
    EventType.org_created: "新建单位",
    EventType.org_updated: "修改单位",
    EventType.org_credit_code_warning: "信用代码校验告警",
    EventType.system_created: "登记业务系统",
    EventType.system_updated: "修改业务系统",
    EventType.system_disabled: "停用业务系统",
    EventType.system_token_issued: "签发系统令牌",
    EventType.system_token_revoked: "吊销系统令牌",
    EventType.system_token_used: "系统令牌调用",
    EventType.system_address_refused: "非授权地址调用被拒",
    EventType.task_reassigned: "待办移交",
    EventType.audit_verified: "校验审计链",
    EventType.audit_searched: "查询审计日志",
    EventType.audit_checkpoint: "审计检查点签名",
    EventType.demo_loaded: "加载演示数据",
    EventType.catalog_created: "新编目录",
    EventType.catalog_updated: "修改目录",
    EventType.catalog_secrecy_recorded: "登记保密审查",
    EventType.catalog_submitted: "报送目录审核",
    EventType.catalog_approved: "目录审核通过",
    EventType.catalog_returned: "目录退回修改",
    EventType.catalog_retire_requested: "申请撤销目录",
    EventType.catalog_discarded: "放弃目录草稿",
    EventType.catalog_imported: "批量导入目录",
    EventType.catalog_exported: "导出目录",
    EventType.catalog_class_created: "新建目录分类",
    EventType.catalog_class_updated: "修改目录分类",
    EventType.element_created: "新建数据元",
    EventType.element_updated: "修改数据元",
    EventType.element_conflict_opened: "一数一源冲突",
    EventType.element_conflict_resolved: "处理一数一源冲突",
    EventType.batch_ingested: "数据批次入库",
    EventType.quality_rules_changed: "修改质量规则",
    EventType.quarantine_exported: "下载隔离数据",
    EventType.file_uploaded: "上传资源文件",
    EventType.file_downloaded: "下载资源文件",
    EventType.sync_source_saved: "登记前置库同步",
    EventType.sync_source_removed: "停用前置库同步",
    EventType.sync_run_started: "启动前置库同步",
    EventType.sync_run_finished: "前置库同步完成",
    EventType.sync_run_failed: "前置库同步失败",
    EventType.service_saved: "登记接口服务",
    EventType.service_called: "调用接口服务",
    EventType.share_requested: "提交共享申请",
    EventType.share_decided: "答复共享申请",
    EventType.share_disputed: "对共享答复提出异议",
    EventType.share_ruled: "裁定共享争议",
    EventType.share_overdue: "共享申请逾期未答复",
    EventType.feedback_filed: "提出数据异议",
    EventType.feedback_answered: "答复数据异议",
    EventType.feedback_closed: "办结数据异议",
    EventType.feedback_reopened: "重新打开数据异议",
    EventType.feedback_overdue: "数据异议逾期未核实",
    EventType.export_requested: "申请导出数据",
    EventType.export_decided: "审批数据导出",
    EventType.export_downloaded: "下载导出数据",
    EventType.leak_traced: "追查泄露文件",
    EventType.grant_changed: "调整共享授权",
    EventType.data_delivered: "交付共享数据",
    EventType.data_refused: "拒绝共享数据调用",
    EventType.row_traced: "追溯数据行来源",
    EventType.holiday_schedule_loaded: "加载节假日安排",
    EventType.masking_profile_created: "新建脱敏方案",
    EventType.masking_profile_updated: "修改脱敏方案",
    EventType.masking_previewed: "试用脱敏方案",
    EventType.backup_policy_changed: "修改备份策略",
    EventType.backup_requested: "申请立即备份",
    EventType.backup_created: "完成备份",
    EventType.backup_failed: "备份失败",
    EventType.backup_pruned: "按保留期限删除备份",
    EventType.backup_drilled: "恢复演练",
    EventType.backup_restored: "从备份恢复平台",
    EventType.data_key_rotated: "轮换数据密钥",
    EventType.alert_raised: "产生安全告警",
    EventType.alert_extended: "安全告警追加证据",
    EventType.alert_assigned: "指派安全告警",
    EventType.alert_investigating: "开始调查安全告警",
    EventType.alert_closed: "办结安全告警",
    EventType.alert_rule_changed: "修改告警规则",
    EventType.incident_created: "登记安全事件",
    EventType.incident_noted: "安全事件处置记录",
    EventType.incident_alert_linked: "安全事件关联告警",
    EventType.incident_closed: "办结安全事件",
    EventType.containment_applied: "采取处置措施",
    EventType.containment_lifted: "撤销处置措施",
    EventType.classification_changed: "修改分类分级方案",
    EventType.asset_register_exported: "导出数据资产登记表",
    EventType.destruction_requested: "申请销毁数据",
    EventType.destruction_department_approved: "本单位批准数据销毁",
    EventType.destruction_bureau_approved: "市数据局批准数据销毁",
    EventType.destruction_refused: "驳回数据销毁申请",
    EventType.destruction_withdrawn: "撤回数据销毁申请",
    EventType.destruction_executed: "监督确认并执行数据销毁",
    EventType.policy_created: "制定安全管理制度",
    EventType.policy_revised: "修订安全管理制度",
    EventType.policy_reviewed: "定期审核安全管理制度（无需修改）",
    EventType.policy_retired: "废止安全管理制度",
    EventType.policy_review_due: "安全管理制度到期待审核",
    EventType.report_published: "发布共享情况公示报告",
    EventType.violation_detected: "发现违规情形",
    EventType.violation_entered: "登记违规情形",
    EventType.violation_dismissed: "撤销违规记录",
    EventType.violation_resolved: "违规情形消除",
    EventType.notice_issued: "下发整改通知",
    EventType.notice_reported: "报送整改报告",
    EventType.notice_verified: "核验整改通过",
    EventType.notice_rejected: "退回整改报告",
    EventType.notice_escalated: "逾期未整改，上报市政府",
    EventType.open_data_delivered: "向社会提供开放数据",
    EventType.open_application_submitted: "提交开放数据申请",
    EventType.open_application_approved: "批准开放数据申请",
    EventType.open_application_rejected: "驳回开放数据申请",
    EventType.open_application_refused: "开放数据申请凭证核验未通过",
    EventType.open_settings_changed: "修改开放数据脱敏方案",
    EventType.analysis_run: "执行数据分析查询",
    EventType.analysis_refused: "拒绝数据分析查询",
    EventType.analysis_checked: "分析结果输出风险评估",
    EventType.analysis_released: "发布分析结果（导出或保存为派生数据集）",
    EventType.analysis_release_refused: "拒绝发布分析结果",
}
